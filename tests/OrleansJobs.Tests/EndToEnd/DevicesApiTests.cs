using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process with device job types and the API host process, for <see cref="DevicesApiTests"/>.</summary>
public sealed class DevicesApiFixture() : ApiSystemFixture("devices", new Dictionary<string, string>
{
    // "plot" (built in) waits for an operator after a disconnect; "plot-auto" continues when its device is back.
    ["DeviceJobTypes__plot-auto__DeviceKind"] = "plotter",
    ["DeviceJobTypes__plot-auto__ResumeAfterReconnect"] = "true",
    // Its own kind, so that the devices other tests leave Online never take its jobs.
    ["DeviceJobTypes__draw__DeviceKind"] = "drawbot",
    ["Reminders__MinimumReminderPeriod"] = "00:00:01",
    ["Watchdog__ReminderPeriod"] = "00:00:01",
    ["Watchdog__RegisterAfter"] = "00:00:00",
});

/// <summary>
/// Devices over real HTTP: registration and bad input; a job bound to a device runs on its agent only; silence pauses it
/// within the heartbeat timeout (emergency_shutdown), an operator resumes it from its checkpoint (recovery); a fault pauses an
/// auto-resume job that continues by itself once the device is back; two jobs on one device take turns.
/// </summary>
public sealed class DevicesApiTests(DevicesApiFixture fixture) : IClassFixture<DevicesApiFixture>
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Register_Get_Update_List_Remove_AndBadInputChangesNothing()
    {
        using (var created = await PostAsync("/api/devices", """{"id": "reg-1", "kind": "plotter", "name": "Desk plotter", "settings": {"penWidth": 0.3}}"""))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var device = await created.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Offline", device.GetProperty("state").GetString());
            Assert.Equal(10, device.GetProperty("heartbeatTimeoutSeconds").GetInt32());
            Assert.Equal(0.3, device.GetProperty("settings").GetProperty("penWidth").GetDouble());
        }

        using (var again = await PostAsync("/api/devices", """{"id": "reg-1", "kind": "plotter", "name": "Desk plotter", "settings": {"penWidth":0.3}}"""))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        using (var different = await PostAsync("/api/devices", """{"id": "reg-1", "kind": "printer", "name": "Desk plotter"}"""))
        {
            Assert.Equal(HttpStatusCode.Conflict, different.StatusCode);
            Assert.Equal("reg-1", (await different.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("deviceId").GetString());
        }

        foreach (var (body, field) in new[]
        {
            ("""{"id": "Bad Id", "kind": "plotter", "name": "x"}""", "id"),
            ("""{"id": "reg-2", "kind": "plotter", "name": "x", "heartbeatTimeoutSeconds": 0}""", "heartbeatTimeoutSeconds"),
            ("""{"id": "reg-2", "kind": "plotter", "name": "x", "settings": [1]}""", "settings"),
            ("""{"id": "reg-2", "name": "x"}""", "kind"),
        })
        {
            using var bad = await PostAsync("/api/devices", body);
            await AssertInvalidAsync(bad, field);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync(new Uri("/api/devices/reg-2", UriKind.Relative))).StatusCode);
        using (var patch = await Http.PatchAsync(new Uri("/api/devices/reg-1", UriKind.Relative), Json("""{"name": "Big plotter", "heartbeatTimeoutSeconds": 5}""")))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
            var device = await patch.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Big plotter", device.GetProperty("name").GetString());
            Assert.Equal("plotter", device.GetProperty("kind").GetString());
        }

        var listed = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/devices?kind=plotter&state=Offline", UriKind.Relative));
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), d => d.GetProperty("id").GetString() == "reg-1");
        await AssertInvalidAsync(await Http.GetAsync(new Uri("/api/devices?state=Sleeping", UriKind.Relative)), "state");

        // Heartbeat of an unknown device, a second agent while the first serves it: refused, nothing changes.
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync("/api/devices/reg-2/heartbeat", """{"agentId": "a1"}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync("/api/devices/reg-1/heartbeat", """{"agentId": "a1"}""")).StatusCode);
        using (var other = await PostAsync("/api/devices/reg-1/heartbeat", """{"agentId": "a2"}"""))
        {
            Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
        }

        var device1 = await GetDeviceAsync("reg-1");
        Assert.Equal("a1", device1.GetProperty("agent").GetString());
        Assert.Equal("Online", device1.GetProperty("state").GetString());

        using (var removed = await Http.DeleteAsync(new Uri("/api/devices/reg-1", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync(new Uri("/api/devices/reg-1", UriKind.Relative))).StatusCode);
        Assert.Equal(0L, await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM devices WHERE device_id = 'reg-1'"));
    }

    [Fact]
    public async Task Submissions_NameARegisteredDeviceOfTheirTypesKind_AndDeviceJobsAreClaimedThroughTheirDeviceOnly()
    {
        await RegisterAsync("sub-1", "plotter", 10);
        await RegisterAsync("sub-printer", "printer", 10);
        await AssertInvalidAsync(await PostAsync("/api/jobs", """{"type": "plot"}"""), "device");
        await AssertInvalidAsync(await PostAsync("/api/jobs", """{"type": "plot", "device": "nope"}"""), "device");
        await AssertInvalidAsync(await PostAsync("/api/jobs", """{"type": "plot", "device": "sub-printer"}"""), "device");
        await AssertInvalidAsync(await PostAsync("/api/jobs", """{"type": "synthetic", "device": "sub-1", "parameters": {"items": 1}}"""), "device");
        await AssertInvalidAsync(await PostAsync("/api/jobs", """{"type": "plot", "device": "Not An Id"}"""), "device");

        var id = await SubmitAsync("plot", "sub-1");
        Assert.Contains("waiting for the agent of device 'sub-1'", (await GetJobAsync(id)).GetProperty("queuedReason").GetString(), StringComparison.Ordinal);
        // Not through the type's queue, and not by an agent that does not serve the device.
        await AssertInvalidAsync(await PostAsync("/api/workers/claim", """{"workerId": "w", "types": ["plot"]}"""), "types[0]");
        await AssertInvalidAsync(await PostAsync("/api/workers/claim", """{"workerId": "stranger", "device": "sub-1"}"""), "workerId");
        await HeartbeatAsync("sub-1", "agent-s");
        await AssertInvalidAsync(await PostAsync("/api/workers/claim", """{"workerId": "stranger", "device": "sub-1"}"""), "workerId");
        Assert.Equal("Queued", (await GetJobAsync(id)).GetProperty("status").GetString());

        var claim = await ClaimAsync("agent-s", "sub-1");
        Assert.Equal(id, claim.GetProperty("jobId").GetString());
        Assert.Equal("Busy", (await GetDeviceAsync("sub-1")).GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(id, "complete", claim, """ "checkpoint": {"cursor": "done", "processed": 3}"""));
        await Wait.UntilAsync("device sub-1 to be Online without an owner", async () =>
            (await GetDeviceAsync("sub-1")) is var d && d.GetProperty("state").GetString() == "Online" && d.GetProperty("owner").ValueKind == JsonValueKind.Null);
    }

    [Fact]
    public async Task SilentAgent_PausesItsJobWithinTheTimeout_NeverRequeued_AndAResumeContinuesFromTheCheckpoint()
    {
        await RegisterAsync("silent-1", "plotter", 2);
        await HeartbeatAsync("silent-1", "agent-1");
        var id = await SubmitAsync("plot", "silent-1");
        var claim = await ClaimAsync("agent-1", "silent-1", leaseSeconds: 60); // the lease outlasts the silence: the device stops the job
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(id, "progress", claim, """ "progress": {"processed": 40, "total": 100}, "checkpoint": {"cursor": "layer-2", "processed": 40}"""));

        // The agent goes silent: no more heartbeats.
        var silentSince = Stopwatch.StartNew();
        var paused = await Wait.ForAsync($"job {id} to pause", () => GetJobAsync(id), j => j.GetProperty("status").GetString() == "Paused", TimeSpan.FromSeconds(15));
        Assert.True(silentSince.Elapsed < TimeSpan.FromSeconds(2 + 2), $"paused {silentSince.Elapsed.TotalSeconds:0.0} s after the last heartbeat");
        Assert.Equal("heartbeat_lost", paused.GetProperty("interruption").GetString());
        Assert.Equal("layer-2", paused.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(1, paused.GetProperty("attempt").GetInt32());
        var device = await GetDeviceAsync("silent-1");
        Assert.Equal("Offline", device.GetProperty("state").GetString());
        Assert.Equal(id, device.GetProperty("owner").GetString());
        var shutdown = Assert.Single(await JournalAsync(id), e => e.GetProperty("type").GetString() == "emergency_shutdown");
        Assert.Equal("heartbeat_lost", shutdown.GetProperty("data").GetProperty("cause").GetString());
        Assert.Contains(await ListInterruptedAsync(), j => j.GetProperty("id").GetString() == id);
        Assert.Equal(HttpStatusCode.Conflict, await ReportAsync(id, "heartbeat", claim, null));

        // Back online: "plot" waits for an operator, holding its device.
        await HeartbeatAsync("silent-1", "agent-1");
        Assert.Equal("Paused", (await GetJobAsync(id)).GetProperty("status").GetString());
        Assert.Contains(id, (await GetDeviceAsync("silent-1")).GetProperty("interrupted").EnumerateArray().Select(e => e.GetString()));
        using (var resume = await PostAsync($"/api/jobs/{id}/resume", "{}"))
        {
            Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        }

        var again = await ClaimAsync("agent-1", "silent-1", leaseSeconds: 60);
        Assert.Equal(id, again.GetProperty("jobId").GetString());
        Assert.Equal("layer-2", again.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(1, again.GetProperty("attempt").GetInt32());
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(id, "complete", again, null));
        var journal = await JournalAsync(id);
        Assert.Contains(journal, e => e.GetProperty("type").GetString() == "recovery" && e.GetProperty("reason").GetString()!.Contains("heartbeat_lost", StringComparison.Ordinal));
        Assert.Equal("Completed", (await GetJobAsync(id)).GetProperty("status").GetString());
        Assert.DoesNotContain(await ListInterruptedAsync(), j => j.GetProperty("id").GetString() == id);
    }

    [Fact]
    public async Task Fault_PausesAnAutoResumeJob_WhichContinuesByItselfWhenTheDeviceIsBack()
    {
        await RegisterAsync("fault-1", "plotter", 10);
        await HeartbeatAsync("fault-1", "agent-f");
        var id = await SubmitAsync("plot-auto", "fault-1");
        var claim = await ClaimAsync("agent-f", "fault-1");
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(id, "progress", claim, """ "checkpoint": {"cursor": "stroke-120", "processed": 120}"""));

        using (var fault = await PostAsync("/api/devices/fault-1/faults", """{"agentId": "agent-f", "text": "pen carriage jammed"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, fault.StatusCode);
        }

        var paused = await GetJobAsync(id);
        Assert.Equal("Paused", paused.GetProperty("status").GetString());
        Assert.Equal("pen carriage jammed", paused.GetProperty("interruption").GetString());
        Assert.Equal("Faulted", (await GetDeviceAsync("fault-1")).GetProperty("state").GetString());
        // Still faulted: heartbeats that report the fault keep it paused.
        using (var still = await PostAsync("/api/devices/fault-1/heartbeat", """{"agentId": "agent-f", "fault": "pen carriage jammed"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        }

        Assert.Equal("Paused", (await GetJobAsync(id)).GetProperty("status").GetString());
        await HeartbeatAsync("fault-1", "agent-f");
        var queued = await GetJobAsync(id);
        Assert.Equal("Queued", queued.GetProperty("status").GetString());
        var again = await ClaimAsync("agent-f", "fault-1");
        Assert.Equal("stroke-120", again.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(id, "complete", again, null));
        var journal = await JournalAsync(id);
        var shutdown = Assert.Single(journal, e => e.GetProperty("type").GetString() == "emergency_shutdown");
        Assert.Equal("pen carriage jammed", shutdown.GetProperty("data").GetProperty("cause").GetString());
        Assert.Single(journal, e => e.GetProperty("type").GetString() == "recovery");
    }

    [Fact]
    public async Task TwoJobsOnOneDevice_TakeTurns_TheSecondWaitsNamingTheOwner()
    {
        await RegisterAsync("turns-1", "plotter", 10);
        await HeartbeatAsync("turns-1", "agent-t");
        var first = await SubmitAsync("plot", "turns-1");
        var second = await SubmitAsync("plot", "turns-1");
        var waiting = await GetJobAsync(second);
        Assert.Contains($"owned by job {first}", waiting.GetProperty("queuedReason").GetString(), StringComparison.Ordinal);

        var claim = await ClaimAsync("agent-t", "turns-1");
        Assert.Equal(first, claim.GetProperty("jobId").GetString());
        using (var none = await PostAsync("/api/workers/claim", """{"workerId": "agent-t", "device": "turns-1"}"""))
        {
            Assert.Equal(HttpStatusCode.NoContent, none.StatusCode); // the owner runs; the second waits its turn
        }

        using (var busy = await Http.DeleteAsync(new Uri("/api/devices/turns-1", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.Conflict, busy.StatusCode);
            Assert.Equal(first, (await busy.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("owner").GetString());
        }

        Assert.Equal(HttpStatusCode.OK, await ReportAsync(first, "complete", claim, null));
        var next = await Wait.ForAsync($"the claim of {second}", async () =>
        {
            using var response = await PostAsync("/api/workers/claim", """{"workerId": "agent-t", "device": "turns-1"}""");
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<JsonElement>() : default;
        }, c => c.ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(10));
        Assert.Equal(second, next.GetProperty("jobId").GetString());
        var firstDone = (await GetJobAsync(first)).GetProperty("finishedAt").GetDateTimeOffset();
        Assert.True((await GetJobAsync(second)).GetProperty("startedAt").GetDateTimeOffset() >= firstDone);
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(second, "complete", next, null));
    }

    [Fact]
    public async Task KindTargetedJobs_EachTakeAFreeOnlineDeviceOfTheKind_AndTheNextTakesTheFirstThatIsFreed()
    {
        await RegisterAsync("drawbot-a", "drawbot", 10);
        await RegisterAsync("drawbot-b", "drawbot", 10);
        await RegisterAsync("drawbot-off", "drawbot", 10); // never heartbeats: Offline, never chosen
        await HeartbeatAsync("drawbot-a", "agent-a");
        await HeartbeatAsync("drawbot-b", "agent-b");
        await AssertInvalidAsync(await PostAsync("/api/jobs", """{"type": "draw", "deviceKind": "plotter"}"""), "deviceKind");
        await AssertInvalidAsync(await PostAsync("/api/jobs", """{"type": "draw", "device": "drawbot-a", "deviceKind": "drawbot"}"""), "deviceKind");

        var first = await Http.SubmitJobAsync("""{"type": "draw", "deviceKind": "drawbot"}""");
        var second = await Http.SubmitJobAsync("""{"type": "draw", "deviceKind": "drawbot"}""");
        var third = await Http.SubmitJobAsync("""{"type": "draw", "deviceKind": "drawbot"}""");
        var devices = new[] { (await GetJobAsync(first)).GetProperty("device").GetString(), (await GetJobAsync(second)).GetProperty("device").GetString() };
        Assert.Equal(["drawbot-a", "drawbot-b"], devices.Order(StringComparer.Ordinal));
        var waiting = await GetJobAsync(third);
        Assert.Equal(JsonValueKind.Null, waiting.GetProperty("device").ValueKind);
        Assert.Contains("waiting for a free 'drawbot'", waiting.GetProperty("queuedReason").GetString(), StringComparison.Ordinal);

        var onA = devices[0] == "drawbot-a" ? first : second;
        var claim = await ClaimAsync("agent-a", "drawbot-a");
        Assert.Equal(onA, claim.GetProperty("jobId").GetString());
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(onA, "complete", claim, null));

        // drawbot-a is free again: the job that waited for the kind gets it, and only its agent runs it.
        var bound = await Wait.ForAsync($"job {third} to get a device", () => GetJobAsync(third),
            j => j.GetProperty("device").ValueKind == JsonValueKind.String, TimeSpan.FromSeconds(15));
        Assert.Equal("drawbot-a", bound.GetProperty("device").GetString());
        Assert.Equal(third, (await ClaimAsync("agent-a", "drawbot-a")).GetProperty("jobId").GetString());
        Assert.Equal(third, (await GetDeviceAsync("drawbot-a")).GetProperty("owner").GetString());
    }

    [Fact]
    public async Task AnAgentsReportsForAnotherDevicesJob_AndStaleOrForgedTokens_Are409_AndChangeNothing()
    {
        await RegisterAsync("mine-1", "plotter", 10);
        await RegisterAsync("theirs-1", "plotter", 10);
        await HeartbeatAsync("mine-1", "agent-m");
        await HeartbeatAsync("theirs-1", "agent-t2");
        var mine = await SubmitAsync("plot", "mine-1");
        var theirs = await SubmitAsync("plot", "theirs-1");
        var myClaim = await ClaimAsync("agent-m", "mine-1");
        var theirClaim = await ClaimAsync("agent-t2", "theirs-1");
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(theirs, "progress", theirClaim, """ "checkpoint": {"cursor": "0:10", "processed": 10}"""));

        // My lease token on their job, a forged one, and mine after my lease ended: refused, nothing changes.
        Assert.Equal(HttpStatusCode.Conflict, await ReportAsync(theirs, "progress", myClaim, """ "checkpoint": {"cursor": "2:99", "processed": 299}"""));
        using (var forged = await PostAsync($"/api/jobs/{theirs}/complete", """{"leaseToken": "1-forged"}"""))
        {
            Assert.Equal(HttpStatusCode.Conflict, forged.StatusCode);
        }

        Assert.Equal(HttpStatusCode.OK, await ReportAsync(mine, "complete", myClaim, null));
        Assert.Equal(HttpStatusCode.Conflict, await ReportAsync(mine, "heartbeat", myClaim, null));
        var job = await GetJobAsync(theirs);
        Assert.Equal("Running", job.GetProperty("status").GetString());
        Assert.Equal("0:10", job.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal("agent-t2", job.GetProperty("worker").GetString());
        Assert.Equal(HttpStatusCode.OK, await ReportAsync(theirs, "complete", theirClaim, null));
    }

    [Fact]
    public async Task CheckRequest_GoesOutWithTheNextHeartbeat_AndTheAnswerIsShown()
    {
        await RegisterAsync("check-1", "plotter", 10);
        await HeartbeatAsync("check-1", "agent-c");
        using (var requested = await PostAsync("/api/devices/check-1/check", "{}"))
        {
            Assert.Equal(HttpStatusCode.Accepted, requested.StatusCode);
        }

        using var beat = await PostAsync("/api/devices/check-1/heartbeat", """{"agentId": "agent-c"}""");
        var checkId = (await beat.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checkRequested").GetString()!;
        using (var answer = await PostAsync("/api/devices/check-1/heartbeat", $$"""{"agentId": "agent-c", "check": {"id": "{{checkId}}", "ok": true, "detail": "pen down/up in 40 ms"} }"""))
        {
            Assert.Equal(JsonValueKind.Null, (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checkRequested").ValueKind);
        }

        var check = (await GetDeviceAsync("check-1")).GetProperty("check");
        Assert.True(check.GetProperty("ok").GetBoolean());
        Assert.Equal("pen down/up in 40 ms", check.GetProperty("detail").GetString());
    }

    private async Task RegisterAsync(string id, string kind, int timeoutSeconds)
    {
        using var response = await PostAsync("/api/devices", $$"""{"id": "{{id}}", "kind": "{{kind}}", "name": "{{id}}", "heartbeatTimeoutSeconds": {{timeoutSeconds}} }""");
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    private async Task HeartbeatAsync(string device, string agent)
    {
        using var response = await PostAsync($"/api/devices/{device}/heartbeat", $$"""{"agentId": "{{agent}}"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private Task<string> SubmitAsync(string type, string device) => Http.SubmitJobAsync($$"""{"type": "{{type}}", "device": "{{device}}"}""");

    private async Task<JsonElement> ClaimAsync(string agent, string device, int? leaseSeconds = null)
    {
        var lease = leaseSeconds is { } s ? $", \"leaseSeconds\": {s}" : "";
        using var response = await PostAsync("/api/workers/claim", $$"""{"workerId": "{{agent}}", "device": "{{device}}"{{lease}} }""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<HttpStatusCode> ReportAsync(string id, string kind, JsonElement claim, string? members)
    {
        var extra = members is null ? "" : "," + members;
        using var response = await PostAsync($"/api/jobs/{id}/{kind}", $$"""{"leaseToken": "{{claim.GetProperty("leaseToken").GetString()}}"{{extra}} }""");
        return response.StatusCode;
    }

    private async Task<List<JsonElement>> ListInterruptedAsync() =>
        [.. (await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/jobs?interrupted=true&limit=500", UriKind.Relative))).GetProperty("items").EnumerateArray()];

    private async Task<JsonElement> GetJobAsync(string id) => await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));

    private async Task<JsonElement> GetDeviceAsync(string id) => await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/devices/{id}", UriKind.Relative));

    private async Task<List<JsonElement>> JournalAsync(string id)
    {
        // The journal and the index are projections: wait until they have caught up with the job's state.
        var version = (await GetJobAsync(id)).GetProperty("version").GetInt64();
        await Wait.UntilAsync($"the index of {id} to reach version {version}", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
        return [.. (await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}/journal", UriKind.Relative))).EnumerateArray()];
    }

    private static async Task AssertInvalidAsync(HttpResponseMessage response, string field)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400 naming {field}: {(int)response.StatusCode} {body}");
            Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {body}");
        }
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private Task<HttpResponseMessage> PostAsync(string path, string body) => Http.PostJsonAsync(path, body);
}
