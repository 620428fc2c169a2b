package cn.doudi.sdk

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest as JHttpRequest
import java.net.http.HttpResponse as JHttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import uniffi.doudi_sdk.*

/** The host app's HTTP stack: what an Android app does with OkHttp, here java.net.http. */
class JdkTransport : Transport {
    val calls = CopyOnWriteArrayList<String>()
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()

    override fun send(request: HttpRequest): HttpResponse {
        calls.add("${request.method} ${URI(request.url).path}")
        val builder = JHttpRequest.newBuilder(URI(request.url)).timeout(Duration.ofSeconds(60))
        for (h in request.headers) builder.header(h.name, h.value)
        builder.method(request.method, JHttpRequest.BodyPublishers.ofByteArray(request.body))
        val resp = try {
            http.send(builder.build(), JHttpResponse.BodyHandlers.ofByteArray())
        } catch (e: java.io.IOException) {
            throw TransportException.Network(e.toString())
        }
        val headers = resp.headers().map().flatMap { (k, vs) -> vs.map { HttpHeader(k, it) } }
        return HttpResponse(resp.statusCode().toUShort(), headers, resp.body())
    }
}

class Progress : SyncProgress {
    val rounds = CopyOnWriteArrayList<SyncProgressInfo>()
    override fun onProgress(progress: SyncProgressInfo) {
        rounds.add(progress)
    }
}

class DoudiClientTest {
    private val server = System.getenv("DOUDI_TEST_SERVER") ?: error("DOUDI_TEST_SERVER is not set")
    private val photo = System.getenv("DOUDI_TEST_PHOTO") ?: error("DOUDI_TEST_PHOTO is not set")
    private val key = ByteArray(32) { it.toByte() }
    private val password = "doudi-demo-2026"

    @Test
    fun captureAVisitWithAPhotoAndSyncThroughAKotlinTransport(@TempDir dir: Path) = runBlocking {
        val transport = JdkTransport()
        val grid = DoudiClient.open(dir.resolve("grid").toString(), key, server, transport)
        val account = grid.login("demo-grid", password, "JUnit phone")
        assertEquals(listOf("370102002002-G01"), account.regions)

        val household = grid.createHousehold(null, "千佛山街道 测试路 2 号", "李桂兰", "370102195805120021")
        assertEquals(listOf(household), grid.households("2 号").map { it.id })
        // The number is sealed into the document; this phone shows it back in clear, offline.
        val head = grid.household(household).members[0]
        assertEquals("370102****0021", head.idNumberMasked)
        assertEquals("370102195805120021", head.idNumber)
        val visit = grid.startVisit(household, VisitPurpose.RECHECK)
        val hash = grid.attachPhoto(
            visit, Files.readAllBytes(Path.of(photo)), PhotoCategory.DWELLING_INSIDE, "室内",
            System.currentTimeMillis(), 36.65, 117.02,
        )
        assertEquals(64, hash.length)
        grid.setConclusion(visit, Conclusion.ACCURATE, "情况属实")
        assertEquals(1u, grid.pendingUploads())

        val progress = Progress()
        val summary = grid.syncNow(progress)
        assertEquals(2u, summary.documentsSent)
        assertTrue(summary.rejected.isEmpty())
        assertTrue(progress.rounds.isNotEmpty())
        assertTrue(transport.calls.contains("POST /api/v1/sync"), transport.calls.toString())
        assertEquals(0u, grid.pendingChanges())
        // The photo went through the Kotlin transport: asked for, then uploaded in chunks unless
        // the server already had these bytes (the Python test may have sent the same photo).
        assertEquals(1u, summary.photosUploaded)
        assertEquals(0u, grid.pendingUploads())
        assertTrue(transport.calls.contains("POST /api/v1/blobs/missing"), transport.calls.toString())

        // The server has it: the assistant's phone (built-in transport) receives the visit.
        val assistant = DoudiClient.open(dir.resolve("assistant").toString(), key, server, null)
        assistant.login("demo-assistant", password, "JUnit phone 2")
        assistant.syncNow(null)
        val detail = assistant.household(household)
        assertEquals("李桂兰", detail.summary.headName)
        assertEquals("370102195805120021", detail.members[0].idNumber)
        assertEquals(listOf(visit), detail.visits.map { it.id })
        assertEquals(1u, detail.visits[0].photoCount)
        assertEquals(Conclusion.ACCURATE, assistant.visit(visit).conclusion)

        // On the server, byte for byte, for a colleague who may read the visit.
        val http = HttpClient.newHttpClient()
        val login = http.send(
            JHttpRequest.newBuilder(URI("$server/api/v1/auth/login"))
                .header("content-type", "application/json")
                .POST(JHttpRequest.BodyPublishers.ofString(
                    """{"username":"demo-assistant","password":"$password","device":{"name":"JUnit check","platform":"desktop"}}"""
                )).build(),
            JHttpResponse.BodyHandlers.ofString(),
        )
        val token = Regex("\"access_token\":\"([^\"]+)\"").find(login.body())!!.groupValues[1]
        val blob = http.send(
            JHttpRequest.newBuilder(URI("$server/api/v1/blobs/$hash"))
                .header("authorization", "Bearer $token").GET().build(),
            JHttpResponse.BodyHandlers.ofByteArray(),
        )
        assertEquals(200, blob.statusCode())
        assertTrue(blob.body().contentEquals(grid.attachment(hash, false)))
    }

    @Test
    fun captureAHouseholdsMeansAndReadItsAssessment(@TempDir dir: Path) = runBlocking {
        val grid = DoudiClient.open(dir.resolve("grid").toString(), key, server, JdkTransport())
        grid.login("demo-grid", password, "JUnit phone")
        grid.syncNow(null) // the region policy book comes with the sync
        val household = grid.createHousehold(null, "千佛山街道 测试路 4 号", "黄老汉", "370102196003030029")
        grid.setHukouType(household, HukouType.URBAN)
        val head = grid.household(household).members[0].id
        val visit = grid.startVisit(household, VisitPurpose.INVESTIGATION)
        val wife = grid.addMember(visit, NewMemberInput("黄大娘", "370102196204040020", "spouse", null))
        grid.setMemberDetails(household, wife, MemberDetails(
            coResident = true, nonResidentReason = null, nonResidentNote = null,
            health = Health.SEVERELY_DISABLED, disease = null,
            disabilityKind = DisabilityKind.PHYSICAL, disabilityGrade = 2u,
            workCapacity = WorkCapacity.FULLY_LOST, schooling = null, employment = null,
        ))
        // 2,400 a month from the head's work, quarterly land rent of 600: 1,300 per person.
        grid.setIncome(household, null, IncomeInput(
            head, IncomeClass.WAGES, "general", 240_000, Period.MONTH, "工资条", IncomeSource.OBSERVED,
        ))
        grid.setIncome(household, null, IncomeInput(
            null, IncomeClass.PROPERTY, "general", 60_000, Period.QUARTER, null, IncomeSource.DECLARED,
        ))
        val expense = grid.setExpenditure(household, null, ExpenditureInput(
            ExpenditureKind.REHABILITATION, wife, "康复训练", 300_000,
            java.time.LocalDate.now().minusMonths(1).toString(),
        ))
        val receipt = grid.attachReceipt(household, expense, Files.readAllBytes(Path.of(photo)))
        assertEquals(listOf(receipt), grid.householdMeans(household).expenditures[0].receipts)
        // A type the region does not define is refused.
        assertThrows<DoudiException.InvalidInput> {
            grid.setIncome(household, null, IncomeInput(
                null, IncomeClass.OTHER, "no_such_type", 1, Period.YEAR, null, IncomeSource.DECLARED,
            ))
        }

        // Offline, under the demo city's standard of 1,000: 1,300 per person is 边缘 (below
        // 1.5 × 1,000), and the wife, grade 2 and without income, may apply alone.
        val a = grid.assessment(household, null)
        assertEquals(100_000L, a.standard!!.monthlyFen)
        assertEquals(2u, a.householdSize)
        assertEquals(130_000L, a.perCapitaMonthlyFen)
        val status = a.indicators.associate { it.kind to it.status }
        assertEquals(IndicatorStatus.NOT_MET, status[IndicatorKind.DIBAO])
        assertEquals(IndicatorStatus.MET, status[IndicatorKind.NEAR_DIBAO])
        assertEquals(IndicatorStatus.MET, status[IndicatorKind.SINGLE_PERSON])
        assertTrue(a.notice.zh.startsWith("提示，不是结论"), a.notice.zh)

        val summary = grid.syncNow(null)
        assertTrue(summary.rejected.isEmpty(), summary.rejected.toString())
        assertEquals(0u, grid.pendingUploads())
        val assistant = DoudiClient.open(dir.resolve("assistant").toString(), key, server, null)
        assistant.login("demo-assistant", password, "JUnit phone 2")
        assistant.syncNow(null)
        assertEquals(a, assistant.assessment(household, null))
    }

    @Test
    fun errorsCarryStableCodesAndChineseMessages(@TempDir dir: Path) = runBlocking {
        val client = DoudiClient.open(dir.toString(), key, server, JdkTransport())
        val e = assertThrows<DoudiException.Unauthorized> {
            runBlocking { client.login("demo-grid", "wrong password", "JUnit") }
        }
        assertTrue(e.code().startsWith("auth."), e.code())
        assertTrue(e.messageZh().contains("登录"))
        assertThrows<DoudiException.NotLoggedIn> { client.createHousehold(null, "某地", "某人", null) }
        assertThrows<DoudiException.WrongKey> { DoudiClient.open(dir.toString(), ByteArray(32), server, null) }
        Unit
    }
}
