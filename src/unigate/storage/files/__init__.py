"""The media store (``core/files.py``'s ``MediaStore``): generated files kept for the retention
period and served at ``GET /v1/media/{id}``, on local disk (``local.py``) or in an S3-compatible
bucket (``s3.py``), with signed links (``signing.py``); ``factory.py`` picks one."""
