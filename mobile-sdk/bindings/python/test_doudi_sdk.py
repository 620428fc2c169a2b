"""The Python bindings against a real doudi demo server (started by run-tests.sh)."""

import asyncio
import json
import os
import time
import urllib.request

import pytest

import doudi_sdk as sdk

SERVER = os.environ["DOUDI_TEST_SERVER"]
PHOTO = os.environ["DOUDI_TEST_PHOTO"]
PASSWORD = "doudi-demo-2026"
KEY = bytes(range(32))


class Progress(sdk.SyncProgress):
    def __init__(self):
        self.rounds = []

    def on_progress(self, progress):
        self.rounds.append(progress)


def server_blob(username, digest):
    """GET /api/v1/blobs/{digest} with a token of `username`, over plain HTTP."""
    login = urllib.request.Request(
        SERVER + "/api/v1/auth/login",
        data=json.dumps(
            {"username": username, "password": PASSWORD,
             "device": {"name": "pytest check", "platform": "desktop"}}
        ).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(login) as r:
        token = json.load(r)["access_token"]
    get = urllib.request.Request(
        SERVER + "/api/v1/blobs/" + digest, headers={"authorization": "Bearer " + token}
    )
    with urllib.request.urlopen(get) as r:
        return r.read()


def open_client(path):
    return sdk.DoudiClient.open(str(path), KEY, SERVER, None)


def test_capture_a_visit_with_a_photo_and_sync(tmp_path):
    grid = open_client(tmp_path / "grid")
    account = asyncio.run(grid.login("demo-grid", PASSWORD, "pytest phone"))
    assert account.username == "demo-grid"
    assert account.regions == ["370102002002-G01"]

    household = grid.create_household(None, "千佛山街道 测试路 1 号", "张秀英", "370102195512310024")
    assert [h.id for h in grid.households("张秀英")] == [household]
    # The number is sealed into the document; this phone shows it back in clear, offline.
    head = grid.household(household).members[0]
    assert head.id_number_masked == "370102****0024"
    assert head.id_number == "370102195512310024"
    visit = grid.start_visit(household, sdk.VisitPurpose.INVESTIGATION)
    grid.set_living_conditions(
        visit, sdk.LivingConditions(food="够吃", clothing=None, housing="平房", daily_goods=None)
    )
    with open(PHOTO, "rb") as f:
        digest = grid.attach_photo(
            visit, f.read(), sdk.PhotoCategory.KITCHEN, "厨房", int(time.time() * 1000), 36.65, 117.02
        )
    assert len(digest) == 64
    assert grid.pending_uploads() == 1

    progress = Progress()
    summary = asyncio.run(grid.sync_now(progress))
    assert summary.documents_sent == 2
    assert summary.rejected == []
    assert progress.rounds and progress.rounds[-1].bytes_sent > 0
    assert grid.pending_changes() == 0
    assert summary.photos_uploaded == 1
    assert grid.pending_uploads() == 0
    assert progress.rounds[-1].photos_uploaded == 1

    # The photo is on the server, byte for byte, for a colleague who may read the visit.
    assert server_blob("demo-assistant", digest) == grid.attachment(digest, False)

    # The server has it: another account's phone sees the visit and its photo.
    assistant = open_client(tmp_path / "assistant")
    asyncio.run(assistant.login("demo-assistant", PASSWORD, "pytest phone 2"))
    asyncio.run(assistant.sync_now(None))
    detail = assistant.household(household)
    assert detail.summary.head_name == "张秀英"
    # The assistant's field work needs the whole number: it comes with the sync.
    assert detail.members[0].id_number == "370102195512310024"
    assert [v.id for v in detail.visits] == [visit]
    assert detail.visits[0].photo_count == 1
    assert assistant.visit(visit).living.housing == "平房"


def test_errors_have_codes_and_chinese_messages(tmp_path):
    client = open_client(tmp_path / "c")
    with pytest.raises(sdk.DoudiError.Unauthorized) as e:
        asyncio.run(client.login("demo-grid", "wrong password", "pytest"))
    assert e.value.code().startswith("auth.")
    assert "登录" in e.value.message_zh()
    with pytest.raises(sdk.DoudiError.NotLoggedIn):
        client.create_household(None, "某地", "某人", None)
    with pytest.raises(sdk.DoudiError.WrongKey):
        sdk.DoudiClient.open(str(tmp_path / "c"), bytes(32), SERVER, None)
    with pytest.raises(sdk.DoudiError.InvalidInput) as e:
        sdk.DoudiClient.open(str(tmp_path / "d"), b"short", SERVER, None)
    assert e.value.code() == "input.invalid"
