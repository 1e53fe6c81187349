"""The emulated WorldCat Metadata API 2.0: OCLC's OAuth2 token endpoint and the subset of the
Metadata API that manages an institution's holdings, served over HTTP as OCLC documents it.

The views only adapt HTTP to the plain functions of `datasync.holdings`, which change the same
emulated WorldCat as the files that arrive on the file exchange.
"""
