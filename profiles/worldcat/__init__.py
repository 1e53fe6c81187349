"""The Alma side of OCLC's WorldCat Metadata API 2.0: a profile's API settings, the one client
module that talks to the API, reconciliation through it, and holdings set or unset now."""
