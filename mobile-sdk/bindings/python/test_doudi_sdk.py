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


def test_capture_a_households_means_and_read_its_assessment(tmp_path):
    grid = open_client(tmp_path / "grid")
    asyncio.run(grid.login("demo-grid", PASSWORD, "pytest phone"))
    asyncio.run(grid.sync_now(None))  # the region policy book comes with the sync
    household = grid.create_household(None, "千佛山街道 测试路 3 号", "陈老汉", "370102195501010026")
    grid.set_hukou_type(household, sdk.HukouType.URBAN)
    head = grid.household(household).members[0].id
    visit = grid.start_visit(household, sdk.VisitPurpose.INVESTIGATION)
    wife = grid.add_member(
        visit, sdk.NewMemberInput(name="陈大娘", id_number="370102195702020028", relation="spouse", note=None)
    )
    grid.set_member_details(household, head, sdk.MemberDetails(
        co_resident=True, non_resident_reason=None, non_resident_note=None,
        health=sdk.Health.SERIOUSLY_ILL, disease="尿毒症", disability_kind=None, disability_grade=None,
        work_capacity=sdk.WorkCapacity.FULLY_LOST, schooling=None, employment="无业",
    ))
    assert "basic_pension_central" in [k.code for k in grid.income_kinds(household)]
    grid.set_income(household, None, sdk.IncomeInput(
        member_id=wife, income_class=sdk.IncomeClass.WAGES, kind="general", amount_fen=120_000,
        period=sdk.Period.MONTH, evidence="工资条", source=sdk.IncomeSource.OBSERVED,
    ))
    grid.set_supporter(household, None, sdk.SupporterInput(
        name="陈小军", relation="长子", id_number=None, able_to_support=False, unable_reason="本人重病",
        support_paid_fen=None, support_paid_period=None,
    ))
    # A member away without the DB2021 art. 7 reason is refused, with the field named.
    with pytest.raises(sdk.DoudiError.InvalidInput) as e:
        grid.set_member_details(household, wife, sdk.MemberDetails(
            co_resident=False, non_resident_reason=None, non_resident_note=None, health=None,
            disease=None, disability_kind=None, disability_grade=None, work_capacity=None,
            schooling=None, employment=None,
        ))
    assert e.value.field.endswith("non_resident_reason")
    assert "非共同生活" in e.value.message_zh

    # Offline, with the demo city's standard (1,000 per person per month): 1,200 a month for two
    # is 600 each; the 低保 amount is 2,000 − 1,200 = 800.
    a = grid.assessment(household)
    assert a.standard.monthly_fen == 100_000
    assert a.standard.region == "370100000000"
    assert a.region == "370102002002"
    assert (a.household_size, a.per_capita_monthly_fen, a.dibao_amount_fen) == (2, 60_000, 80_000)
    dibao = next(i for i in a.indicators if i.kind == sdk.IndicatorKind.DIBAO)
    assert dibao.status == sdk.IndicatorStatus.MET
    assert any("600.00" in line.zh for line in dibao.explanation)
    assert a.notice.zh.startswith("提示，不是结论")
    assert a.missing == []

    summary = asyncio.run(grid.sync_now(None))
    assert summary.rejected == []
    assistant = open_client(tmp_path / "assistant")
    asyncio.run(assistant.login("demo-assistant", PASSWORD, "pytest phone 2"))
    asyncio.run(assistant.sync_now(None))
    assert assistant.assessment(household) == a
    assert assistant.household_means(household).supporters[0].supporter.unable_reason == "本人重病"


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
