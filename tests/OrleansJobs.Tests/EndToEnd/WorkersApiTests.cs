using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process with external job types and the API host process, for <see cref="WorkersApiTests"/>.</summary>
public sealed class WorkersApiFixture() : ApiSystemFixture("workers", SiloSettings())
{
    private static Dictionary<string, string> SiloSettings()
    {
        var settings = new Dictionary<string, string>();
        foreach (var type in new[] { "ext-flow", "ext-lapse", "ext-lapse-again", "ext-control", "ext-limit", "ext-checks", "ext-stall", "ext-release" })
        {
            settings[$"ExternalJobTypes__{type}__MinLeaseDuration"] = "00:00:01";
            settings[$"ExternalJobTypes__{type}__MaxLeaseDuration"] = "00:10:00";
        }

        settings["ExternalJobTypes__ext-limit__MaxConcurrent"] = "2";
        // Each test has a job type (a queue) of its own, so that one test's leftovers never reach another.
        settings["ExternalJobTypes__ext-lapse__MaxRecoveries"] = "1";
        settings["ExternalJobTypes__ext-lapse-again__MaxRecoveries"] = "1";
        settings["ExternalJobTypes__ext-stall__StallTimeout"] = "00:00:02";
        settings["ExternalJobTypes__ext-stall__MaxRecoveries"] = "1";
        // The watchdog ticks every second here (production: every minute, from 5 s into a run).
        settings["Reminders__MinimumReminderPeriod"] = "00:00:01";
        settings["Watchdog__ReminderPeriod"] = "00:00:01";
        settings["Watchdog__RegisterAfter"] = "00:00:00";
        return settings;
    }
}

/// <summary>
/// External workers over real HTTP: claim, progress with checkpoints, messages, complete and fail;
/// a lease that lapses puts the job back with its checkpoint, and a report under a lapsed or
/// superseded token is refused with 409 and changes nothing.
/// </summary>
public sealed class WorkersApiTests(WorkersApiFixture fixture) : IClassFixture<WorkersApiFixture>
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Claim_Progress_Messages_Complete_TheJobCarriesWhatTheWorkerReported()
    {
        var id = await SubmitAsync("ext-flow", """{"frames": 3}""");
        var queued = await GetAsync(id);
        Assert.Equal("Queued", queued.GetProperty("status").GetString());
        Assert.Contains("waiting for a worker", queued.GetProperty("queuedReason").GetString(), StringComparison.Ordinal);

        var claim = await ClaimAsync("w1", "ext-flow", 30);
        Assert.Equal(id, claim.GetProperty("jobId").GetString());
        Assert.Equal(3, claim.GetProperty("parameters").GetProperty("frames").GetInt32());
        Assert.Equal(0, claim.GetProperty("checkpoint").GetProperty("processed").GetInt64());
        Assert.Equal(1, claim.GetProperty("attempt").GetInt32());
        var token = claim.GetProperty("leaseToken").GetString()!;
        var running = await GetAsync(id);
        Assert.Equal("Running", running.GetProperty("status").GetString());
        Assert.Equal("w1", running.GetProperty("worker").GetString());

        using (var progress = await PostAsync($"/api/jobs/{id}/progress",
            $$"""{"leaseToken": "{{token}}", "progress": {"processed": 2, "total": 3}, "checkpoint": {"cursor": "frame-2", "processed": 2} }"""))
        {
            Assert.Equal(HttpStatusCode.OK, progress.StatusCode);
            var body = await progress.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Running", body.GetProperty("status").GetString());
            Assert.True(body.GetProperty("leaseExpiresAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddSeconds(20));
        }

        Assert.Equal("frame-2", (await GetAsync(id)).GetProperty("checkpoint").GetProperty("cursor").GetString());
        using (var messages = await PostAsync($"/api/jobs/{id}/messages",
            $$"""{"leaseToken": "{{token}}", "messages": [{"level": "warning", "text": "slow disk"}]}"""))
        {
            Assert.Equal(HttpStatusCode.OK, messages.StatusCode);
        }

        using (var complete = await PostAsync($"/api/jobs/{id}/complete", $$"""{"leaseToken": "{{token}}", "checkpoint": {"cursor": "frame-3", "processed": 3} }"""))
        {
            Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
            Assert.Equal("Completed", (await complete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        var done = await GetAsync(id);
        Assert.Equal("Completed", done.GetProperty("status").GetString());
        Assert.Equal("frame-3", done.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Contains(done.GetProperty("messages").EnumerateArray(), m => m.GetProperty("text").GetString() == "slow disk");
        Assert.Equal(JsonValueKind.Null, done.GetProperty("worker").ValueKind);

        // The lease has ended: the same report again is refused and changes nothing.
        using (var again = await PostAsync($"/api/jobs/{id}/complete", $$"""{"leaseToken": "{{token}}"}"""))
        {
            await AssertLeaseLostAsync(again, "Completed");
        }

        Assert.Equal(done.GetProperty("version").GetInt64(), (await GetAsync(id)).GetProperty("version").GetInt64());
        using var none = await PostAsync("/api/workers/claim", """{"workerId": "w1", "types": ["ext-flow"]}""");
        Assert.Equal(HttpStatusCode.NoContent, none.StatusCode);
        var journal = await JournalAsync(id);
        Assert.Contains(journal, e => e.GetProperty("type").GetString() == "state_change" && e.GetProperty("to").GetString() == "Running"
            && e.GetProperty("reason").GetString()!.Contains("claimed by worker w1", StringComparison.Ordinal)
            && e.GetProperty("actor").GetString() == "worker:w1");
    }

    [Fact]
    public async Task ExternalJobNamingALibrary_Is400NamingLibrary()
    {
        using var response = await PostAsync("/api/jobs", """{"type": "ext-flow", "parameters": {}, "library": "photos"}""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("external workers", problem.GetProperty("errors").GetProperty("library")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task LapsedLease_PutsTheJobBackWithItsCheckpoint_TheOldTokenIsRefused_AndANewWorkerContinues()
    {
        var id = await SubmitAsync("ext-lapse", """{"scene": "a"}""");
        var first = await ClaimAsync("w1", "ext-lapse", 4);
        Assert.Equal(id, first.GetProperty("jobId").GetString());
        var oldToken = first.GetProperty("leaseToken").GetString()!;
        using (var progress = await PostAsync($"/api/jobs/{id}/progress", $$"""{"leaseToken": "{{oldToken}}", "checkpoint": {"cursor": "c5", "processed": 5} }"""))
        {
            Assert.Equal(HttpStatusCode.OK, progress.StatusCode);
        }

        // w1 goes silent: 4 s later the job is back in the queue, with w1's checkpoint.
        var requeued = await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Queued", TimeSpan.FromSeconds(30));
        Assert.Equal("c5", requeued.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(1, requeued.GetProperty("recoveries").GetInt32());
        var version = requeued.GetProperty("version").GetInt64();

        // w1 comes back: every report under its lapsed token is refused and changes nothing.
        foreach (var (report, body) in new[]
        {
            ("heartbeat", $$"""{"leaseToken": "{{oldToken}}"}"""),
            ("progress", $$"""{"leaseToken": "{{oldToken}}", "checkpoint": {"cursor": "c9", "processed": 9} }"""),
            ("complete", $$"""{"leaseToken": "{{oldToken}}"}"""),
            ("fail", $$"""{"leaseToken": "{{oldToken}}", "error": "late"}"""),
        })
        {
            using var refused = await PostAsync($"/api/jobs/{id}/{report}", body);
            await AssertLeaseLostAsync(refused, "Queued");
        }

        var unchanged = await GetAsync(id);
        Assert.Equal(version, unchanged.GetProperty("version").GetInt64());
        Assert.Equal("c5", unchanged.GetProperty("checkpoint").GetProperty("cursor").GetString());

        // w2 gets the same attempt from w1's checkpoint; w1's token stays void.
        var second = await ClaimWhenAvailableAsync("w2", "ext-lapse", 30);
        Assert.Equal(id, second.GetProperty("jobId").GetString());
        Assert.Equal("c5", second.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(1, second.GetProperty("attempt").GetInt32());
        var newToken = second.GetProperty("leaseToken").GetString()!;
        Assert.NotEqual(oldToken, newToken);
        using (var stale = await PostAsync($"/api/jobs/{id}/heartbeat", $$"""{"leaseToken": "{{oldToken}}"}"""))
        {
            await AssertLeaseLostAsync(stale, "Running");
        }

        using (var heartbeat = await PostAsync($"/api/jobs/{id}/heartbeat", $$"""{"leaseToken": "{{newToken}}"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, heartbeat.StatusCode);
        }

        using (var complete = await PostAsync($"/api/jobs/{id}/complete", $$"""{"leaseToken": "{{newToken}}"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        }

        var journal = await JournalAsync(id);
        var lapsed = Assert.Single(journal, e => e.GetProperty("type").GetString() == "lease_expired");
        Assert.Contains("worker w1", lapsed.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("c5", lapsed.GetProperty("data").GetProperty("checkpoint").GetString());
        Assert.Single(journal, e => e.GetProperty("type").GetString() == "recovery");
        Assert.Equal("Completed", (await GetAsync(id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Release_GivesTheJobBackAtOnce_WithItsCheckpoint_TheSameAttempt_AndAfterAPauseIsRefused()
    {
        var id = await SubmitAsync("ext-release", "{}");
        var first = await ClaimAsync("w1", "ext-release", 60);
        var token = first.GetProperty("leaseToken").GetString()!;
        using (var release = await PostAsync($"/api/jobs/{id}/release",
            $$"""{"leaseToken": "{{token}}", "reason": "worker stopping (Ctrl+C)", "checkpoint": {"cursor": "y", "processed": 2} }"""))
        {
            Assert.Equal(HttpStatusCode.OK, release.StatusCode);
            Assert.Equal("Queued", (await release.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        using (var stale = await PostAsync($"/api/jobs/{id}/heartbeat", $$"""{"leaseToken": "{{token}}"}"""))
        {
            await AssertLeaseLostAsync(stale, "Queued");
        }

        // No back-off, no attempt spent: the next worker continues the same attempt from the checkpoint.
        var second = await ClaimAsync("w2", "ext-release", 60);
        Assert.Equal(id, second.GetProperty("jobId").GetString());
        Assert.Equal(1, second.GetProperty("attempt").GetInt32());
        Assert.Equal("y", second.GetProperty("checkpoint").GetProperty("cursor").GetString());
        var handoff = Assert.Single(await JournalAsync(id), e => e.GetProperty("type").GetString() == "handoff");
        Assert.Contains("worker w1 gave the job back: worker stopping (Ctrl+C)", handoff.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // Paused while the worker runs it, the lease ends at once: a release afterwards is refused and changes nothing.
        using (var pause = await PostAsync($"/api/jobs/{id}/pause", "{}"))
        {
            Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        }

        using (var release = await PostAsync($"/api/jobs/{id}/release", $$"""{"leaseToken": "{{second.GetProperty("leaseToken").GetString()}}", "checkpoint": {"cursor": "z", "processed": 3} }"""))
        {
            await AssertLeaseLostAsync(release, "Paused");
        }

        var paused = await GetAsync(id);
        Assert.Equal("Paused", paused.GetProperty("status").GetString());
        Assert.Equal("y", paused.GetProperty("checkpoint").GetProperty("cursor").GetString());
        await CancelAsync(id);
    }

    [Fact]
    public async Task LeaseLapsingAgain_AfterTheTypesRecoveries_PausesForInvestigation()
    {
        var id = await SubmitAsync("ext-lapse-again", """{"scene": "b"}""");
        Assert.Equal(id, (await ClaimAsync("w1", "ext-lapse-again", 1)).GetProperty("jobId").GetString());
        await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Queued", TimeSpan.FromSeconds(30));
        Assert.Equal(id, (await ClaimWhenAvailableAsync("w2", "ext-lapse-again", 1)).GetProperty("jobId").GetString());

        var paused = await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Paused", TimeSpan.FromSeconds(30));
        Assert.Equal(1, paused.GetProperty("recoveries").GetInt32());
        var journal = await JournalAsync(id);
        Assert.Equal(2, journal.Count(e => e.GetProperty("type").GetString() == "lease_expired"));
        Assert.Single(journal, e => e.GetProperty("type").GetString() == "paused_for_investigation");
        using var none = await PostAsync("/api/workers/claim", """{"workerId": "w3", "types": ["ext-lapse-again"]}""");
        Assert.Equal(HttpStatusCode.NoContent, none.StatusCode);
    }

    [Fact]
    public async Task WorkerThatHeartbeatsWithoutProgress_IsStalled_AndItsJobGoesBackToTheQueue()
    {
        var id = await SubmitAsync("ext-stall", "{}");
        var claim = await ClaimAsync("w1", "ext-stall", 60);
        var token = claim.GetProperty("leaseToken").GetString()!;

        // Alive (heartbeats) but stuck (no progress): after the type's 2 s stall timeout the watchdog takes the job back.
        var status = await Wait.ForAsync("the heartbeat to be refused", async () =>
        {
            using var heartbeat = await PostAsync($"/api/jobs/{id}/heartbeat", $$"""{"leaseToken": "{{token}}"}""");
            return heartbeat.StatusCode;
        }, s => s == HttpStatusCode.Conflict, TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.Conflict, status);

        var job = await GetAsync(id);
        Assert.Equal("Queued", job.GetProperty("status").GetString());
        Assert.Equal(1, job.GetProperty("recoveries").GetInt32());
        var journal = await JournalAsync(id);
        var stalled = Assert.Single(journal, e => e.GetProperty("type").GetString() == "stall_detected");
        Assert.Contains("reported no progress", stalled.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(journal, e => e.GetProperty("type").GetString() == "lease_expired");
        await CancelAsync(id);
    }

    [Fact]
    public async Task CancelWhileAWorkerHoldsTheJob_EndsTheLease_AndTheWorkersNextReportIs409()
    {
        var id = await SubmitAsync("ext-control", "{}");
        var claim = await ClaimAsync("w1", "ext-control", 30);
        var token = claim.GetProperty("leaseToken").GetString()!;

        using (var cancel = await PostAsync($"/api/jobs/{id}/cancel", """{"reason": "not needed"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
            Assert.Equal("Cancelled", (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        using (var heartbeat = await PostAsync($"/api/jobs/{id}/heartbeat", $$"""{"leaseToken": "{{token}}"}"""))
        {
            await AssertLeaseLostAsync(heartbeat, "Cancelled");
        }

        Assert.Equal("Cancelled", (await GetAsync(id)).GetProperty("status").GetString());
        using var none = await PostAsync("/api/workers/claim", """{"workerId": "w1", "types": ["ext-control"]}""");
        Assert.Equal(HttpStatusCode.NoContent, none.StatusCode);
    }

    [Fact]
    public async Task AReportWithAForgedToken_OnAJobNoWorkerRuns_SaysSo_AndChangesNothing()
    {
        var id = await SubmitAsync("synthetic", """{"items": 200, "itemMs": 50}""");
        var before = await GetAsync(id);

        foreach (var (kind, body) in new[] { ("heartbeat", ""), ("complete", ""), ("fail", """, "error": "x" """) })
        {
            using var report = await PostAsync($"/api/jobs/{id}/{kind}", $$"""{"leaseToken": "1-forged"{{body}}}""");
            Assert.Equal(HttpStatusCode.Conflict, report.StatusCode);
            var problem = await report.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Not run by a worker", problem.GetProperty("title").GetString());
            Assert.Contains("its type runs in the silos", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var after = await GetAsync(id);
        Assert.Equal("Running", after.GetProperty("status").GetString());
        Assert.Equal(before.GetProperty("attempt").GetInt32(), after.GetProperty("attempt").GetInt32());
        Assert.DoesNotContain(await JournalAsync(id), e => e.GetProperty("actor").GetString()!.StartsWith("worker:", StringComparison.Ordinal));
        await CancelAsync(id);
    }

    [Fact]
    public async Task Claims_FollowPriorityThenArrival_WithinTheTypesLimit_AndAFailIsRetried()
    {
        var low1 = await SubmitAsync("ext-limit", "{}");
        var high = await SubmitAsync("ext-limit", "{}", priority: 5);
        var low2 = await SubmitAsync("ext-limit", "{}");

        var a = await ClaimAsync("w1", "ext-limit", 30);
        var b = await ClaimAsync("w2", "ext-limit", 30);
        Assert.Equal(high, a.GetProperty("jobId").GetString());
        Assert.Equal(low1, b.GetProperty("jobId").GetString());
        using (var full = await PostAsync("/api/workers/claim", """{"workerId": "w3", "types": ["ext-limit"]}"""))
        {
            Assert.Equal(HttpStatusCode.NoContent, full.StatusCode); // 2 of 2 leased
        }

        // A completed job frees its slot for the next in line.
        Assert.Equal(HttpStatusCode.OK, await CompleteAsync(low1, b));
        var c = await ClaimAsync("w3", "ext-limit", 30);
        Assert.Equal(low2, c.GetProperty("jobId").GetString());

        // A failed attempt frees its slot and is retried later (attempt 2) from its checkpoint.
        using (var fail = await PostAsync($"/api/jobs/{high}/fail",
            $$"""{"leaseToken": "{{a.GetProperty("leaseToken").GetString()}}", "error": "GPU out of memory", "checkpoint": {"cursor": "x", "processed": 1} }"""))
        {
            Assert.Equal(HttpStatusCode.OK, fail.StatusCode);
            Assert.Equal("Queued", (await fail.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        }

        var failed = await GetAsync(high);
        Assert.Contains("GPU out of memory", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("x", failed.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(HttpStatusCode.OK, await CompleteAsync(low2, c));

        // After its backoff (1 s) the failed job can be claimed again: attempt 2, from its checkpoint.
        var retry = await ClaimWhenAvailableAsync("w4", "ext-limit", 30);
        Assert.Equal(high, retry.GetProperty("jobId").GetString());
        Assert.Equal(2, retry.GetProperty("attempt").GetInt32());
        Assert.Equal("x", retry.GetProperty("checkpoint").GetProperty("cursor").GetString());
    }

    [Theory]
    [InlineData("""{"types": ["ext-checks"]}""", "workerId")]
    [InlineData("""{"workerId": "w", "types": []}""", "types")]
    [InlineData("""{"workerId": "w", "types": ["synthetic"]}""", "types[0]")]
    [InlineData("""{"workerId": "w", "types": ["ext-checks", "no-such-type"]}""", "types[1]")]
    [InlineData("""{"workerId": "w", "types": ["ext-checks"], "leaseSeconds": 0}""", "leaseSeconds")]
    [InlineData("""{"workerId": "w", "types": ["ext-checks"], "leaseSeconds": 3600}""", "leaseSeconds")]
    [InlineData("""{"workerId": "w", "types": ["ext-checks"], "lease": 10}""", "lease")]
    [InlineData("""[1, 2]""", "body")]
    public async Task BadClaims_Are400_NamingTheField_AndClaimNothing(string body, string field)
    {
        var id = await SubmitAsync("ext-checks", "{}");
        using var response = await PostAsync("/api/workers/claim", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
        Assert.Equal("Queued", (await GetAsync(id)).GetProperty("status").GetString());
        await CancelAsync(id);
    }

    [Theory]
    [InlineData("progress", """{"checkpoint": {"processed": 1}}""", "leaseToken")]
    [InlineData("fail", """{"leaseToken": "TOKEN"}""", "error")]
    [InlineData("heartbeat", """{"leaseToken": "TOKEN", "error": "x"}""", "error")]
    [InlineData("messages", """{"leaseToken": "TOKEN", "messages": [{"level": "loud", "text": "x"}]}""", "messages[0].level")]
    [InlineData("messages", """{"leaseToken": "TOKEN"}""", "messages")]
    [InlineData("progress", """{"leaseToken": "TOKEN", "progress": {"processed": 5, "total": 3}}""", "progress.processed")]
    [InlineData("progress", """{"leaseToken": "TOKEN", "progress": {"fraction": 2}}""", "progress.fraction")]
    [InlineData("progress", """{"leaseToken": "TOKEN", "checkpoint": {"processed": -1}}""", "checkpoint.processed")]
    [InlineData("progress", """{"leaseToken": "TOKEN", "checkpoint": {"counters": {"a": "b"}}}""", "checkpoint.counters.a")]
    public async Task BadReports_Are400_NamingTheField_AndChangeNothing(string report, string body, string field)
    {
        var id = await SubmitAsync("ext-checks", "{}");
        var claim = await ClaimAsync("w1", "ext-checks", 30);
        Assert.Equal(id, claim.GetProperty("jobId").GetString());
        var before = await GetAsync(id);

        using var response = await PostAsync($"/api/jobs/{id}/{report}", body.Replace("TOKEN", claim.GetProperty("leaseToken").GetString(), StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
        var after = await GetAsync(id);
        Assert.Equal(before.GetProperty("version").GetInt64(), after.GetProperty("version").GetInt64());
        Assert.Equal("Running", after.GetProperty("status").GetString());
        await CancelAsync(id);
    }

    [Fact]
    public async Task ReportOnAnUnknownJob_Is404()
    {
        using var response = await PostAsync("/api/jobs/no-such-job/heartbeat", """{"leaseToken": "1-abc"}""");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    private Task<string> SubmitAsync(string type, string parameters, int priority = 0) =>
        Http.SubmitJobAsync($$"""{"type": "{{type}}", "parameters": {{parameters}}, "priority": {{priority}}}""");

    private async Task<JsonElement> ClaimAsync(string worker, string type, double leaseSeconds)
    {
        var claim = await TryClaimAsync(worker, type, leaseSeconds);
        Assert.True(claim.ValueKind == JsonValueKind.Object, $"no {type} job to claim (204)");
        return claim;
    }

    /// <summary>
    /// Claims as a polling worker does, until a job is there. A job that a lapsed lease returns
    /// reads Queued while its new state is being stored, a moment before the admission has it
    /// again; a failed attempt waits out its back-off first.
    /// </summary>
    private Task<JsonElement> ClaimWhenAvailableAsync(string worker, string type, double leaseSeconds) =>
        Wait.ForAsync($"a {type} job to be claimable", () => TryClaimAsync(worker, type, leaseSeconds),
            j => j.ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(20));

    /// <summary>One claim: the claimed job (200), or an undefined element when there was none (204).</summary>
    private async Task<JsonElement> TryClaimAsync(string worker, string type, double leaseSeconds)
    {
        using var response = await PostAsync("/api/workers/claim",
            $$"""{"workerId": "{{worker}}", "types": ["{{type}}"], "leaseSeconds": {{leaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}""");
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.NoContent,
            $"claim answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonElement>() : default;
    }

    private async Task<HttpStatusCode> CompleteAsync(string id, JsonElement claim)
    {
        using var response = await PostAsync($"/api/jobs/{id}/complete", $$"""{"leaseToken": "{{claim.GetProperty("leaseToken").GetString()}}"}""");
        return response.StatusCode;
    }

    private async Task CancelAsync(string id)
    {
        using var response = await PostAsync($"/api/jobs/{id}/cancel", "{}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task AssertLeaseLostAsync(HttpResponseMessage response, string status)
    {
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Lease lost", problem.GetProperty("title").GetString());
        Assert.Equal(status, problem.GetProperty("jobStatus").GetString());
    }

    private async Task<JsonElement> GetAsync(string id) =>
        await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));

    private Task<JsonElement> WaitForAsync(string id, Func<JsonElement, bool> accept, TimeSpan timeout) =>
        Wait.ForAsync($"job {id}", () => GetAsync(id), accept, timeout);

    private async Task<List<JsonElement>> JournalAsync(string id)
    {
        // The journal is a projection: wait until it has caught up with the job's state.
        var version = (await GetAsync(id)).GetProperty("version").GetInt64();
        await Wait.UntilAsync($"the index of {id} to reach version {version}", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
        return [.. (await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}/journal", UriKind.Relative))).EnumerateArray()];
    }

    private Task<HttpResponseMessage> PostAsync(string path, string body) => Http.PostJsonAsync(path, body);
}
