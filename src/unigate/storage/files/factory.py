"""The media store the settings ask for: a folder under the data folder, or an S3 bucket."""

from __future__ import annotations

from unigate.core.files import MediaStore
from unigate.settings import Settings

__all__ = ["media_store_for"]


def media_store_for(settings: Settings) -> MediaStore:
    media = settings.media
    if media.backend == "s3":
        # Imported here so that a gateway on local disk never loads botocore.
        from unigate.storage.files.s3 import S3MediaStore

        assert media.s3_bucket is not None  # load_settings refuses s3 without one
        return S3MediaStore(
            bucket=media.s3_bucket,
            prefix=media.s3_prefix,
            endpoint_url=media.s3_endpoint_url,
            region=media.s3_region,
            access_key_id=media.s3_access_key_id,
            secret_access_key=media.s3_secret_access_key,
            session_token=media.s3_session_token,
            retention_s=media.retention_s,
            secret=media.secret,
            create_bucket=media.s3_create_bucket,
        )
    from unigate.storage.files.local import LocalMediaStore

    return LocalMediaStore(media.dir or settings.data_dir / "media", retention_s=media.retention_s, secret=media.secret)
