"""Catalogue admin: the record list (built for a million bibs), holdings, sets, and the actions
librarians run on selected records. Every write goes through records.actions."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from config.validators import no_control_characters

from . import actions
from .admin_jobs import ImportJobAdmin, SyncJobAdmin  # noqa: F401 - registers the job admins
from .jobs import enqueue
from .models import Bib, BibSet, BibSetMember, ExportTag, Holding, SyncJob
from .paginator import CheapPaginator
from .search import search_bibs

# The record list's filter parameters that a logical set saves (records.search.search_bibs keys).
SEARCH_KEYS = ("q", "export_tag", "has_holdings", "suppressed", "deleted")


class _SearchFilter(admin.SimpleListFilter):
    """A list filter that delegates to records.search.search_bibs, as logical sets do."""

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return search_bibs(queryset, {self.parameter_name: self.value(), "deleted": "all"})


class ExportTagFilter(_SearchFilter):
    title = "Tag Sync External Catalog"
    parameter_name = "export_tag"

    def lookups(self, request, model_admin):
        return [(value, f"equals {label}") for value, label in ExportTag.choices]


class HasHoldingsFilter(_SearchFilter):
    title = "has holdings"
    parameter_name = "has_holdings"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No (none, or the last one was deleted)")]


class SuppressedFilter(_SearchFilter):
    title = "suppressed from discovery"
    parameter_name = "suppressed"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]


class DeletedFilter(admin.SimpleListFilter):
    """Live records by default; deleted ones (tombstones) on request."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted only"), ("all", "Live and deleted")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live only",
        }
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        return search_bibs(queryset, {"deleted": self.value() or "no"})


class InSetFilter(admin.SimpleListFilter):
    """Members of an itemized set (the set page links here)."""

    title = "set"
    parameter_name = "in_set"

    def lookups(self, request, model_admin):
        value = request.GET.get(self.parameter_name)
        if value and value.isdigit():
            bib_set = BibSet.objects.filter(pk=value).first()
            if bib_set:
                return [(value, bib_set.name)]
        return []

    def has_output(self):
        return bool(self.lookup_choices)

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(set_memberships__bib_set_id=int(value))
        return queryset


def _confirm(request, queryset, *, title: str, question: str, action: str, extra=None):
    """The confirmation page of a bulk action (the POST comes back to the same action)."""
    context = {
        **admin.site.each_context(request),
        "title": title,
        "question": question,
        "action": action,
        "queryset": queryset[:20],
        "count": queryset.count(),
        "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "opts": Bib._meta,
        **(extra or {}),
    }
    return render(request, "records/confirm_action.html", context)


def _tag_action(tag: ExportTag):
    def action(modeladmin, request, queryset):
        if request.POST.get("confirmed") != "yes":
            return _confirm(
                request,
                queryset,
                title=f"Set Export to WorldCat to {tag.label}",
                question=f"Set “Export to WorldCat” to “{tag.label}” on these records?",
                action=f"set_tag_{tag.value}",
            )
        total = queryset.count()
        changed = actions.set_export_tag(queryset, tag, actor=request.user, source="record list")
        modeladmin.message_user(
            request,
            f"{changed} record(s) set to {tag.label}; {total - changed} already had it.",
            messages.SUCCESS,
        )
        return None

    action.__name__ = f"set_tag_{tag.value}"
    action.short_description = f"Set Export to WorldCat: {tag.label}"
    action.allowed_permissions = ("change",)
    return action


def _per_record_action(name: str, label: str, question: str, do, done: str):
    def action(modeladmin, request, queryset):
        if request.POST.get("confirmed") != "yes":
            return _confirm(request, queryset, title=label, question=question, action=name)
        changed = sum(1 for bib in queryset.defer("marc").iterator() if do(bib, request.user))
        modeladmin.message_user(request, f"{changed} record(s) {done}.", messages.SUCCESS)
        return None

    action.__name__ = name
    action.short_description = label
    action.allowed_permissions = ("change",)
    return action


class AddToSetForm(forms.Form):
    bib_set = forms.ModelChoiceField(
        queryset=BibSet.objects.filter(kind=BibSet.Kind.ITEMIZED),
        required=False,
        label="Existing itemized set",
    )
    new_name = forms.CharField(
        required=False,
        max_length=200,
        label="or a new set named",
        validators=[no_control_characters],
    )

    def clean(self):
        data = super().clean()
        if not data.get("bib_set") and not data.get("new_name", "").strip():
            raise forms.ValidationError("Choose a set or give a name for a new one.")
        name = data.get("new_name", "").strip()
        if name and BibSet.objects.filter(name=name).exists():
            raise forms.ValidationError(f"A set named “{name}” exists already: choose it above.")
        return data


@admin.register(Bib)
class BibAdmin(admin.ModelAdmin):
    list_display = [
        "mms_link",
        "title",
        "author",
        "oclc_numbers",
        "export_tag_label",
        "holdings",
        "is_suppressed",
        "is_deleted",
        "updated",
    ]
    list_display_links = None
    list_filter = [ExportTagFilter, HasHoldingsFilter, SuppressedFilter, DeletedFilter, InSetFilter]
    search_fields = ["title"]  # shows the search box; the search itself is records.search
    search_help_text = "Title words, an MMS ID, or an OCLC number (e.g. (OCoLC)12345 or ocm12345)"
    ordering = ["-id"]
    list_per_page = 50
    show_full_result_count = False
    paginator = CheapPaginator
    change_list_template = "admin/records/bib/change_list.html"
    actions = [
        _tag_action(ExportTag.PUBLISH_BIB),
        _tag_action(ExportTag.HOLDINGS_ONLY),
        _tag_action(ExportTag.DONT_PUBLISH),
        _per_record_action(
            "suppress",
            "Suppress from discovery",
            "Suppress these records from discovery?",
            lambda bib, user: actions.set_suppressed(bib, True, actor=user),
            "suppressed",
        ),
        _per_record_action(
            "unsuppress",
            "Unsuppress",
            "Unsuppress these records?",
            lambda bib, user: actions.set_suppressed(bib, False, actor=user),
            "unsuppressed",
        ),
        _per_record_action(
            "delete_records",
            "Delete (keeps a tombstone so the deletion is published)",
            "Delete these records? They stay findable as deleted, so their deletion can be "
            "published to OCLC.",
            lambda bib, user: actions.delete_bib(bib, actor=user),
            "deleted",
        ),
        "add_to_set",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("marc")

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # a hard delete would lose the tombstone
        return found

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return search_bibs(queryset, {"q": search_term, "deleted": "all"}), True

    def has_add_permission(self, request):
        return False  # records arrive through MARC import

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        bib = get_object_or_404(Bib.objects.defer("marc"), pk=object_id)
        return redirect(bib.get_absolute_url())

    @admin.display(description="MMS ID", ordering="id")
    def mms_link(self, obj: Bib):
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), obj.mms_id)

    @admin.display(description="Export to WorldCat", ordering="export_tag")
    def export_tag_label(self, obj: Bib):
        return format_html(
            '<span class="tag-{}">{}</span>', obj.export_tag, obj.get_export_tag_display()
        )

    # Short headers: the list keeps every column in view in a 1280 px window.
    @admin.display(description="holdings", ordering="holdings_count")
    def holdings(self, obj: Bib) -> int:
        return obj.holdings_count

    @admin.display(description="suppressed", boolean=True, ordering="suppressed")
    def is_suppressed(self, obj: Bib) -> bool:
        return obj.suppressed

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj: Bib):
        return obj.updated_at

    @admin.display(description="deleted", boolean=True, ordering="deleted_at")
    def is_deleted(self, obj: Bib):
        return obj.is_deleted

    @admin.action(description="Add selected to set…", permissions=["change"])
    def add_to_set(self, request, queryset):
        form = AddToSetForm(request.POST if request.POST.get("confirmed") == "yes" else None)
        if form.is_bound and form.is_valid():
            bib_set = form.cleaned_data["bib_set"]
            if bib_set is None:
                bib_set = BibSet.objects.create(
                    name=form.cleaned_data["new_name"].strip(), created_by=request.user
                )
            added = actions.add_to_set(bib_set, queryset, actor=request.user)
            self.message_user(
                request,
                format_html(
                    '{} record(s) added to set <a href="{}">{}</a>.',
                    added,
                    reverse("admin:records_bibset_change", args=[bib_set.pk]),
                    bib_set.name,
                ),
                messages.SUCCESS,
            )
            return None
        return _confirm(
            request,
            queryset,
            title="Add records to a set",
            question="Add these records to an itemized set:",
            action="add_to_set",
            extra={"form": form},
        )


@admin.register(Holding)
class HoldingAdmin(admin.ModelAdmin):
    """Holdings are added, changed and deleted through records.actions (counts, change markers,
    audit). A change (call number, textual holdings 866-868...) is sent by the LHR profile."""

    list_display = ["bib", "library", "location", "call_number", "created_at"]
    list_select_related = ["bib"]
    raw_id_fields = ["bib"]
    search_fields = ["=library", "=location"]
    show_full_result_count = False
    paginator = CheapPaginator
    ordering = ["-id"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("bib__marc")

    def get_readonly_fields(self, request, obj=None):
        return ["bib"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        statements = {
            name: getattr(obj, name)
            for name in ("textual_holdings", "supplement_holdings", "index_holdings")
        }
        if change:
            stored = Holding.objects.select_related("bib").get(pk=obj.pk)
            actions.update_holding(
                stored,
                actor=request.user,
                **{name: getattr(obj, name) for name in actions.HOLDING_FIELDS},
            )
            return
        created = actions.add_holding(
            obj.bib, obj.library, obj.location, obj.call_number, actor=request.user, **statements
        )
        obj.pk = created.pk

    def delete_model(self, request, obj):
        actions.delete_holding(obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for holding in queryset.select_related("bib"):
            actions.delete_holding(holding, actor=request.user)


class SaveSearchForm(forms.Form):
    name = forms.CharField(max_length=200, validators=[no_control_characters])
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if BibSet.objects.filter(name=name).exists():
            raise forms.ValidationError("A set with this name exists already.")
        return name


class SynchronizeForm(forms.Form):
    value = forms.ChoiceField(
        label="Synchronize with External Catalog?",
        choices=[
            (ExportTag.PUBLISH_BIB, "Publish Bibliographic records"),
            (ExportTag.HOLDINGS_ONLY, "Publish holdings only"),
            (ExportTag.DONT_PUBLISH, "Don't publish"),
        ],
        widget=forms.RadioSelect,
        initial=ExportTag.PUBLISH_BIB,
    )


@admin.register(BibSet)
class BibSetAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "member_count", "created_by", "created_at"]
    list_select_related = ["created_by"]
    list_filter = ["kind"]
    search_fields = ["name"]
    show_full_result_count = False
    readonly_fields = ["kind", "query", "created_by", "created_at", "records_link"]
    fields = ["name", "description", "kind", "query", "records_link", "created_by", "created_at"]
    change_form_template = "admin/records/bibset/change_form.html"

    def get_queryset(self, request):
        # A correlated count per displayed row: the page's sets only, never the whole table.
        members = (
            BibSetMember.objects.filter(bib_set=OuterRef("pk"))
            .order_by()
            .values("bib_set")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(n_members=Subquery(members, output_field=IntegerField()))
        )

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["records_link"]

    def get_fields(self, request, obj=None):
        return self.fields if obj else ["name", "description"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.display(description="members")
    def member_count(self, obj: BibSet):
        if obj.kind == BibSet.Kind.LOGICAL:
            return "saved search"
        return obj.n_members or 0

    @admin.display(description="records")
    def records_link(self, obj: BibSet):
        if not obj.pk:
            return "-"
        return format_html('<a href="{}">Show the records of this set</a>', set_records_url(obj))

    def get_urls(self):
        own = [
            path(
                "save-search/",
                self.admin_site.admin_view(self.save_search_view),
                name="records_bibset_save_search",
            ),
            path(
                "<int:pk>/synchronize/",
                self.admin_site.admin_view(self.synchronize_view),
                name="records_bibset_synchronize",
            ),
        ]
        return own + super().get_urls()

    def save_search_view(self, request):
        """Save the record list's current filters as a logical set."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:records_bib_changelist"))
        source = request.POST if request.method == "POST" else request.GET
        query = {k: source.get(k) for k in SEARCH_KEYS if source.get(k)}
        form = SaveSearchForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            bib_set = actions.create_logical_set(
                form.cleaned_data["name"],
                query,
                description=form.cleaned_data["description"],
                actor=request.user,
            )
            self.message_user(request, f"Logical set “{bib_set.name}” saved.", messages.SUCCESS)
            return redirect("admin:records_bibset_change", bib_set.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": "Save this search as a logical set",
            "form": form,
            "query": query,
            "opts": BibSet._meta,
        }
        return render(request, "records/save_search.html", context)

    def synchronize_view(self, request, pk: int):
        bib_set = get_object_or_404(BibSet, pk=pk)
        if not self.has_change_permission(request, bib_set):
            return HttpResponseRedirect(reverse("admin:records_bibset_change", args=[pk]))
        form = SynchronizeForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            job = SyncJob.objects.create(
                bib_set=bib_set, value=form.cleaned_data["value"], requested_by=request.user
            )
            enqueue("records.tasks.synchronize_job", job.pk)
            self.message_user(request, "The job was submitted.", messages.SUCCESS)
            return redirect(job.get_absolute_url())
        context = {
            **self.admin_site.each_context(request),
            "title": "Synchronize Bib Records with External Catalog",
            "bib_set": bib_set,
            "form": form,
            "jobs": bib_set.sync_jobs.select_related("requested_by")[:10],
            "opts": BibSet._meta,
        }
        return render(request, "records/synchronize.html", context)


def set_records_url(bib_set: BibSet) -> str:
    url = reverse("admin:records_bib_changelist")
    if bib_set.kind == BibSet.Kind.LOGICAL:
        return f"{url}?{urlencode(bib_set.query)}" if bib_set.query else url
    return f"{url}?{urlencode({'in_set': bib_set.pk})}"
