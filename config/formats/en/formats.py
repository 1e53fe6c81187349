"""Date and time formats of every page: ISO-like and short, in the institution's time zone (as
the job and record pages write them), so lists keep their columns narrow."""

DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
