"""The ``[media]`` settings, read once by ``load_settings`` from the table and the environment
(the standard ``AWS_*`` names included, secrets from the environment only), the store
``media_store_for`` builds from them, and the sweeper that runs while the app does."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from unigate.settings import MediaSettings, Settings, load_settings
from unigate.storage.files.factory import media_store_for
from unigate.storage.files.local import LocalMediaStore
from unigate.storage.files.s3 import S3MediaStore
from unigate.storage.files.sweeper import sweep_forever


def test_the_defaults(tmp_path: Path) -> None:
    media = load_settings(env={"UNIGATE_DATA_DIR": str(tmp_path)}).media
    assert media == MediaSettings()
    assert (media.backend, media.retention_s, media.public_url) == ("local", 86400.0, None)
    assert (media.max_upload_bytes, media.max_download_bytes) == (25 * 1024 * 1024, 100 * 1024 * 1024)
    store = media_store_for(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalMediaStore)
    assert store.root == tmp_path / "media"


def test_the_table_then_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "unigate.toml"
    config.write_text(
        '[media]\nbackend = "s3"\ns3_bucket = "from-toml"\ns3_prefix = "m/"\nretention_s = 600\n'
        's3_create_bucket = true\nmax_upload_bytes = 1000\npublic_url = "https://a.example"\n'
    )
    env = {
        "UNIGATE_MEDIA_S3_BUCKET": "from-env",
        "AWS_ENDPOINT_URL_S3": "http://s3.internal:9000",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "shh",
        "UNIGATE_MEDIA_SECRET": "x" * 40,
        "UNIGATE_PUBLIC_URL": "https://b.example",
        "UNIGATE_MEDIA_MAX_DOWNLOAD_BYTES": "2048",
    }
    media = load_settings(config, env=env).media
    assert (media.backend, media.s3_bucket, media.s3_prefix, media.retention_s) == ("s3", "from-env", "m/", 600.0)
    assert (media.s3_endpoint_url, media.s3_region) == ("http://s3.internal:9000", "eu-west-3")
    assert (media.s3_access_key_id, media.s3_secret_access_key, media.secret) == ("AKIA", "shh", "x" * 40)
    assert (media.s3_create_bucket, media.max_upload_bytes, media.max_download_bytes) == (True, 1000, 2048)
    assert media.public_url == "https://b.example"
    assert "shh" not in repr(media)
    assert "x" * 40 not in repr(media)
    store = media_store_for(Settings(media=media))
    assert isinstance(store, S3MediaStore)
    assert (store.bucket, store.prefix, store.retention_s) == ("from-env", "m/", 600.0)


def test_our_variable_wins_over_the_aws_one(tmp_path: Path) -> None:
    env = {"UNIGATE_MEDIA_S3_REGION": "ours", "AWS_REGION": "aws", "UNIGATE_MEDIA_S3_CREATE_BUCKET": "0"}
    media = load_settings(env=env).media
    assert (media.s3_region, media.s3_create_bucket) == ("ours", False)


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ('[media]\nsecret = "in a file"\n', {}, "unknown \\[media\\] settings: secret"),
        ("[media]\nbukcet = 1\n", {}, "unknown \\[media\\] settings: bukcet"),
        ("", {"UNIGATE_MEDIA_BACKEND": "ftp"}, "unknown media backend 'ftp'"),
        ("", {"UNIGATE_MEDIA_BACKEND": "s3"}, "needs UNIGATE_MEDIA_S3_BUCKET"),
        ("", {"UNIGATE_MEDIA_RETENTION_S": "0"}, "positive number of seconds"),
    ],
)
def test_mistakes_are_refused_at_load(tmp_path: Path, toml: str, env: dict[str, str], message: str) -> None:
    config = tmp_path / "unigate.toml"
    config.write_text(toml)
    with pytest.raises(ValueError, match=message):
        load_settings(config, env=env)


async def test_the_sweeper_keeps_sweeping_through_failures(tmp_path: Path) -> None:
    media = LocalMediaStore(tmp_path, retention_s=60.0)
    await media.start()
    calls: list[str] = []
    fourth = asyncio.Event()
    real_sweep = media.sweep

    async def sweep() -> int:
        calls.append("sweep")
        if len(calls) == 4:
            fourth.set()
        if len(calls) == 2:
            raise OSError("the disk hiccupped")
        return await real_sweep()

    media.sweep = sweep  # type: ignore[method-assign]
    task = asyncio.create_task(sweep_forever(media, every_s=0.01))
    await asyncio.wait_for(fourth.wait(), 10)  # the failed second sweep did not stop the next ones
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
