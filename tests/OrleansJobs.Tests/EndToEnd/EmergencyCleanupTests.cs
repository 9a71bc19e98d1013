using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process and the API host of their own: an emergency cleanup stops every job of the cluster.</summary>
public sealed class EmergencyCleanupFixture() : ApiSystemFixture("emergency");

/// <summary>
/// The emergency cleanup over real HTTP: refused without its confirmation, a dry run changes nothing, a run
/// stops a running, a queued and a paused job (journaled emergency_cleanup on each), a repeat finds nothing,
/// and the cluster runs a new job right after.
/// </summary>
public sealed class EmergencyCleanupTests(EmergencyCleanupFixture fixture) : IClassFixture<EmergencyCleanupFixture>
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Cleanup_StopsEveryActiveJob_JournaledOnEach_IsSafeToRepeat_AndTheClusterTakesNewJobsRightAfter()
    {
        var running = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 100000, "itemMs": 20}}""");
        var queued = await Http.SubmitJobAsync($$"""{"type": "synthetic", "parameters": {"items": 1}, "runAfter": "{{DateTimeOffset.UtcNow.AddDays(1):O}}"}""");
        var paused = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 100000, "itemMs": 20}}""");
        await WaitForAsync(running, "Running");
        await WaitForAsync(paused, "Running");
        Assert.Equal(HttpStatusCode.OK, (await Http.PostJsonAsync($"/api/jobs/{paused}/pause", "{}")).StatusCode);
        await WaitForAsync(paused, "Paused");
        await Wait.UntilAsync("the index to show the three jobs active", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_index WHERE status IN ('Running', 'Queued', 'Paused')") == 3);

        var before = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/safeguards/status", UriKind.Relative));
        Assert.Equal("Healthy", before.GetProperty("readiness").GetProperty("status").GetString());
        Assert.Equal(1, before.GetProperty("jobs").GetProperty("running").GetInt64());
        Assert.Equal(1, before.GetProperty("jobs").GetProperty("queued").GetInt64());
        Assert.Equal(1, before.GetProperty("jobs").GetProperty("paused").GetInt64());
        Assert.Equal(JsonValueKind.Null, before.GetProperty("lastEmergencyCleanup").ValueKind);
        // The validator ran without being asked: when the silo started (and on its schedule).
        await Wait.UntilAsync("the state validator's first run", async () => (await Http.GetFromJsonAsync<JsonElement>(
            new Uri("/api/admin/validator", UriKind.Relative))).GetProperty("runs").GetInt64() >= 1);

        foreach (var (body, field) in new[] { ("{}", "confirm"), ("""{"confirm": "yes"}""", "confirm"), ("""{"confirm": "stop every job", "mode": "nuke"}""", "mode") })
        {
            using var refused = await Http.PostJsonAsync("/api/admin/emergency-cleanup", body);
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.True((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty(field, out _));
        }

        var dry = await CleanupAsync("""{"confirm": "stop every job", "dryRun": true}""");
        Assert.Equal(1, dry.GetProperty("found").GetProperty("Running").GetInt32());
        Assert.Equal(1, dry.GetProperty("found").GetProperty("Queued").GetInt32());
        Assert.Equal(1, dry.GetProperty("found").GetProperty("Paused").GetInt32());
        Assert.True(dry.GetProperty("validation").GetProperty("dryRun").GetBoolean());
        Assert.Equal("Running", (await GetAsync(running)).GetProperty("status").GetString());

        var run = await CleanupAsync("""{"confirm": "stop every job", "graceSeconds": 10}""");
        Assert.Equal(3, run.GetProperty("cancelled").GetInt32() + run.GetProperty("killed").GetInt32());
        Assert.Equal(0, run.GetProperty("stillActive").GetInt32());
        // The state validator ran after the jobs stopped, and repaired what it found (nothing is left half-held).
        var validation = run.GetProperty("validation");
        Assert.False(validation.GetProperty("dryRun").GetBoolean());
        Assert.Equal("emergency cleanup", validation.GetProperty("reason").GetString());
        Assert.Equal(validation.GetProperty("found").EnumerateObject().Sum(k => k.Value.GetInt32()),
            validation.GetProperty("repaired").EnumerateObject().Sum(k => k.Value.GetInt32()));
        foreach (var id in new[] { running, queued, paused })
        {
            var job = await GetAsync(id);
            Assert.True(job.GetProperty("status").GetString() is "Cancelled" or "Killed", $"job {id}: {job.GetProperty("status")}");
            var journal = await JournalAsync(id);
            Assert.Contains(journal, e => e.GetProperty("type").GetString() == "emergency_cleanup");
        }

        var after = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/safeguards/status", UriKind.Relative));
        var last = after.GetProperty("lastEmergencyCleanup");
        Assert.Equal(3, last.GetProperty("cancelled").GetInt32() + last.GetProperty("killed").GetInt32());
        var validator = after.GetProperty("validator");
        Assert.True(validator.GetProperty("lastRun").GetProperty("reason").GetString() is "emergency cleanup" or "scheduled"); // a scheduled run may follow
        Assert.True(validator.GetProperty("runs").GetInt64() >= 1);
        await Wait.UntilAsync("the index to show no active job", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_index WHERE status IN ('Running', 'Queued', 'Paused', 'Cancelling', 'Pausing')") == 0);

        var again = await CleanupAsync("""{"confirm": "stop every job", "mode": "fail"}""");
        Assert.Equal(0, again.GetProperty("forceFailed").GetInt32() + again.GetProperty("cancelled").GetInt32());

        var fresh = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 3}}""");
        await WaitForAsync(fresh, "Completed");
    }

    private async Task<JsonElement> CleanupAsync(string body)
    {
        using var response = await Http.PostJsonAsync("/api/admin/emergency-cleanup", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<JsonElement> WaitForAsync(string id, string status) =>
        Wait.ForAsync($"job {id} to be {status}", () => GetAsync(id), j => j.GetProperty("status").GetString() == status);

    private async Task<JsonElement> GetAsync(string id) => await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));

    private async Task<List<JsonElement>> JournalAsync(string id)
    {
        var version = (await GetAsync(id)).GetProperty("version").GetInt64();
        await Wait.UntilAsync($"the index of {id} to reach version {version}", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
        return [.. (await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}/journal", UriKind.Relative))).EnumerateArray()];
    }
}
