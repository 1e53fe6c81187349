"""Admin screens under "OCLC Data Sync": the WorldShare Collection Manager side of the workflow."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html

from audit.describe import form_changes
from audit.log import record as audit

from .forms import AcceptCollectionsForm, ContactFormSet, FilexAccountForm
from .intake import accept_collection, make_default_collection, submit_collection
from .models import (
    Collection,
    CollectionComment,
    CollectionContact,
    FilexAccount,
    Holding,
    IncomingFile,
    Institution,
    LocalHoldingsRecord,
    Report,
    WorldCatRecord,
)


class CappedCountPaginator(Paginator):
    """Counts at most CAP rows, so a list of millions of holdings never runs a full COUNT(*)."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.CAP + 1].count()


# What processing counted in a file: a column of the file list and a field of its page.
FILE_COUNTS = [
    "records",
    "holdings_set",
    "holdings_deleted",
    "unresolved",
    "staged",
    "created",
    "exceptions",
]


class BigTableAdmin(admin.ModelAdmin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50


class ReadOnlyMixin:
    """Rows written by processing: visible to staff, changed only by OCLC's rules."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- institutions and file-exchange accounts --------------------------------------------------


class FilexAccountInline(admin.TabularInline):
    model = FilexAccount
    form = FilexAccountForm
    extra = 0
    fields = ["username", "new_password", "is_active", "last_login_at"]
    readonly_fields = ["last_login_at"]
    verbose_name_plural = "File exchange (SFTP) accounts"


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "file_symbol", "created_at"]
    search_fields = ["symbol", "name"]
    inlines = [FilexAccountInline]
    actions = ["download_holdings_export"]

    @admin.action(description="Download the WorldCat holdings export (MARC, Collection Manager)")
    def download_holdings_export(self, request, queryset):
        from .worldcat_api.export import holdings_export_response

        return holdings_export_response(request, queryset)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit(
            "datasync.institution.changed" if change else "datasync.institution.created",
            actor=request.user,
            target=obj,
            message=f"Institution {obj.symbol} {'changed' if change else 'created'}.",
            data=form_changes(form) if change else {"fields": form.changed_data},
        )

    def save_formset(self, request, form, formset, change):
        accounts = formset.save()
        for account in accounts:
            changed = getattr(account, "_password_changed", False)
            audit(
                "datasync.account.saved",
                actor=request.user,
                target=account,
                # Only the fact that the password changed is recorded, never the password.
                message=f"File exchange account {account.username} saved"
                + (" with a new password." if changed else "."),
            )
        for account in formset.deleted_objects:
            audit(
                "datasync.account.deleted",
                actor=request.user,
                message=f"File exchange account {account.username} deleted.",
            )


# --- Data Sync collections --------------------------------------------------------------------


class CommentInline(admin.StackedInline):
    """The comment thread: existing comments are read-only, a new one can be added."""

    model = CollectionComment
    extra = 1
    fields = ["text", "posted"]
    readonly_fields = ["posted"]
    verbose_name = "comment"
    verbose_name_plural = "Comments"

    @admin.display(description="posted")
    def posted(self, obj):
        if obj is None or obj.pk is None:
            return ""
        author = obj.author.get_username() if obj.author else "OCLC"
        return f"{author}, {timezone.localtime(obj.created_at):%Y-%m-%d %H:%M}"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ContactInline(admin.TabularInline):
    model = CollectionContact
    formset = ContactFormSet
    # Two blank rows, none required: a draft may be saved with fewer contacts; ContactFormSet
    # insists on 2 or 3 when the collection is submitted.
    extra = 2
    max_num = 3
    fields = ["name", "email", "phone"]
    verbose_name = "contact"
    verbose_name_plural = "Contact Information"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.submitting = "_submit_collection" in request.POST
        return formset


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    change_form_template = "datasync/collection_change_form.html"
    view_on_site = False
    list_display = [
        "collection_id",
        "name",
        "institution",
        "data_sync_type",
        "status",
        "is_default",
        "created_at",
    ]
    list_filter = ["status", "data_sync_type", "is_default"]
    list_select_related = ["institution"]
    search_fields = ["collection_id", "name", "institution__symbol"]
    readonly_fields = ["replace_records"]
    actions = ["accept_collections", "make_default"]
    fieldsets = [
        (
            "Properties",
            {
                "fields": [
                    "institution",
                    "data_sync_type",
                    "name",
                    "group",
                    "third_party_name",
                    "wms_library",
                    "original_data_format",
                    "use_record_status",
                    "description",
                ]
            },
        ),
        (
            "Bibliographic Record Information",
            {
                "classes": ["collapse"],
                "description": "System and Processing tabs.",
                "fields": [
                    "estimated_record_count",
                    "provider",
                    "system_name",
                    "version",
                    "oclc_number_location",
                    "local_system_number_location",
                    "limit_to_staging",
                    "replace_records",
                    "use_language_of_cataloging",
                    "excluded_fixed_fields",
                ],
            },
        ),
        (
            "Local Bibliographic Data",
            {"classes": ["collapse"], "fields": ["retain_local_bibliographic_data"]},
        ),
        ("MARC Record Output", {"classes": ["collapse"], "fields": ["marc_record_delivery"]}),
    ]

    def get_inlines(self, request, obj):
        # OCLC shows the comment thread only once the collection has been saved.
        return [CommentInline, ContactInline] if obj is not None else [ContactInline]

    def has_delete_permission(self, request, obj=None):
        return False  # a Data Sync collection cannot be deleted once saved

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit(
            "datasync.collection.changed" if change else "datasync.collection.created",
            actor=request.user,
            target=obj,
            message=f"Collection {obj.collection_id} {'saved' if change else 'created'}.",
            data=form_changes(form) if change else {"fields": form.changed_data},
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "_submit_collection" in request.POST:
            submit_collection(form.instance, actor=request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is CollectionComment:
            comments = formset.save(commit=False)
            for comment in comments:
                comment.author = request.user
                comment.save()
                audit(
                    "datasync.collection.commented",
                    actor=request.user,
                    target=form.instance,
                    message=f"Comment on collection {form.instance.collection_id}: "
                    f"{comment.text[:200]}",
                )
            return
        formset.save()

    def _stay_on_page(self, request, obj) -> HttpResponseRedirect:
        state = "submitted" if obj.status != Collection.Status.DRAFT else "saved"
        self.message_user(
            request, f"Collection {obj.collection_id} {state} ({obj.get_status_display()})."
        )
        return HttpResponseRedirect(reverse("admin:datasync_collection_change", args=[obj.pk]))

    def response_add(self, request, obj, post_url_continue=None):
        obj.refresh_from_db()
        return self._stay_on_page(request, obj)

    def response_change(self, request, obj):
        obj.refresh_from_db()
        return self._stay_on_page(request, obj)

    @admin.action(description="Accept collection (OCLC database specialist)")
    def accept_collections(self, request, queryset):
        form = AcceptCollectionsForm(request.POST if "confirm" in request.POST else None)
        if "confirm" in request.POST and form.is_valid():
            files = 0
            for collection in queryset.select_related("institution"):
                processed = accept_collection(
                    collection,
                    actor=request.user,
                    replace_records=form.cleaned_data["replace_records"],
                )
                files += len(processed)
                self.log_change(request, collection, "Accepted")
            self.message_user(
                request,
                f"Accepted {queryset.count()} collection(s); processed {files} held file(s).",
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "datasync/accept_collections.html",
            {
                **self.admin_site.each_context(request),
                "title": "Accept Data Sync collections",
                "collections": queryset.select_related("institution"),
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

    @admin.action(description="Make default collection")
    def make_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(
                request, "Select exactly one collection to make the default.", messages.ERROR
            )
            return
        collection = queryset.select_related("institution").get()
        make_default_collection(collection, actor=request.user)
        self.log_change(request, collection, "Made default collection")
        self.message_user(
            request,
            f"Collection {collection.collection_id} is now the default collection of "
            f"{collection.institution.symbol}.",
        )


# --- incoming files and reports ---------------------------------------------------------------


class ReportInline(ReadOnlyMixin, admin.TabularInline):
    model = Report
    fields = ["kind", "report_link", "lines", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="report")
    def report_link(self, obj):
        return format_html('<a href="{}">{}</a>', obj.get_absolute_url(), obj.file_name)


@admin.register(IncomingFile)
class IncomingFileAdmin(ReadOnlyMixin, BigTableAdmin):
    view_on_site = False  # the file's page is this page
    list_display = [
        "file_name",
        "institution",
        "collection_id_display",
        "status",
        "received_at",
        *FILE_COUNTS,
    ]
    list_filter = ["status", "used_default_collection", "institution"]
    list_select_related = ["institution", "collection"]
    search_fields = ["=file_name", "=sha256"]
    inlines = [ReportInline]
    fields = [
        "file_name",
        "account",
        "institution",
        "collection",
        "status",
        "note",
        "error",
        "received_at",
        "received_date",
        "processed_at",
        "superseded_by",
        "size",
        "sha256",
        *FILE_COUNTS,
    ]

    @admin.display(description="collection", ordering="collection__collection_id")
    def collection_id_display(self, obj):
        return obj.collection.collection_id if obj.collection else "—"


# --- emulated WorldCat ------------------------------------------------------------------------


class HoldingInline(ReadOnlyMixin, admin.TabularInline):
    model = Holding
    fields = ["institution", "local_system_number", "set_by_file", "set_at"]
    readonly_fields = fields
    extra = 0


class LocalHoldingsRecordInline(ReadOnlyMixin, admin.TabularInline):
    model = LocalHoldingsRecord
    verbose_name_plural = "local holdings records (LHRs)"
    fields = [
        "institution",
        "symbol",
        "control_number",
        "location",
        "call_number",
        "textual_holdings",
        "set_by_file",
        "set_at",
    ]
    readonly_fields = fields
    extra = 0


@admin.register(WorldCatRecord)
class WorldCatRecordAdmin(BigTableAdmin):
    list_display = ["oclc_number", "title", "source", "merged_into"]
    list_filter = ["source"]
    list_select_related = ["merged_into"]
    search_fields = ["=oclc_number", "title"]
    raw_id_fields = ["merged_into", "created_by_file"]
    readonly_fields = ["created_by_file", "created_at"]
    inlines = [HoldingInline, LocalHoldingsRecordInline]

    def get_search_results(self, request, queryset, search_term):
        # "=oclc_number" on a bigint column: a term that is not a number matches titles only.
        term = search_term.strip()
        if term and not term.isdigit():
            return queryset.filter(title__icontains=term), False
        return super().get_search_results(request, queryset, search_term)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit(
            "datasync.worldcat.changed" if change else "datasync.worldcat.created",
            actor=request.user,
            target=obj,
            message=f"WorldCat record {obj.oclc_number} "
            + (f"merged into {obj.merged_into.oclc_number}." if obj.merged_into else "saved."),
            data=form_changes(form) if change else {"fields": form.changed_data},
        )

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Holding)
class HoldingAdmin(ReadOnlyMixin, BigTableAdmin):
    list_display = ["oclc_number", "institution", "local_system_number", "set_by_file", "set_at"]
    list_filter = ["institution"]
    list_select_related = ["record", "institution", "set_by_file"]
    search_fields = ["=record__oclc_number", "=local_system_number"]

    @admin.display(description="OCLC number", ordering="record__oclc_number")
    def oclc_number(self, obj):
        return obj.record.oclc_number

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if term and not term.isdigit():
            return queryset.filter(local_system_number=term), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(LocalHoldingsRecord)
class LocalHoldingsRecordAdmin(ReadOnlyMixin, BigTableAdmin):
    list_display = [
        "oclc_number",
        "symbol",
        "control_number",
        "location",
        "call_number",
        "textual_holdings",
        "set_at",
    ]
    list_filter = ["institution", "symbol"]
    list_select_related = ["record", "institution"]
    search_fields = ["=control_number", "=bib_local_number"]

    @admin.display(description="OCLC number", ordering="record__oclc_number")
    def oclc_number(self, obj):
        return obj.record.oclc_number


# The emulated Metadata API's WSKeys and local data.
from .worldcat_api import admin as _worldcat_api_admin  # noqa: E402,F401
