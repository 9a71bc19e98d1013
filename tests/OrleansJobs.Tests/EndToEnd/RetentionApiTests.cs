using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process keeping finished jobs one day, at most 2 of type <c>keep-two</c> (a type of its own), and the API host.</summary>
public sealed class RetentionApiFixture() : ApiSystemFixture("retention", new Dictionary<string, string>
{
    ["Retention__Retention"] = "1.00:00:00",
    ["Retention__MaxPastJobsPerType"] = "2",
    ["Retention__BatchSize"] = "2", // several batches even for a handful of jobs
    ["ExternalJobTypes__keep-two__MinLeaseDuration"] = "00:00:01",
});

/// <summary>
/// Retention and purges over real HTTP, with effects asserted on the database: a purged job's state, index row and
/// journal are gone; an active job is never touched; a dry run deletes nothing; the policy deletes finished jobs older
/// than the retention and beyond the per-type maximum; a filtered purge takes what it names and nothing without a filter.
/// </summary>
public sealed class RetentionApiTests(RetentionApiFixture fixture) : IClassFixture<RetentionApiFixture>
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task PurgeOne_DeletesItsStateIndexAndJournal_AndAnUnfinishedJobIsRefusedUntouched()
    {
        var done = await CompletedJobAsync();
        using (var purged = await Http.PostJsonAsync($"/api/jobs/{done}/purge", "{}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, purged.StatusCode);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync(new Uri($"/api/jobs/{done}", UriKind.Relative))).StatusCode);
        Assert.Equal(0, await RowsAsync(done));
        Assert.Equal(HttpStatusCode.NotFound, (await Http.PostJsonAsync($"/api/jobs/{done}/purge", "{}")).StatusCode);

        var running = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 1000, "itemMs": 50}}""");
        await Wait.ForAsync($"job {running} to run", () => GetAsync(running), j => j.GetProperty("status").GetString() == "Running");
        var rowsBefore = await RowsAsync(running);
        using (var refused = await Http.PostJsonAsync($"/api/jobs/{running}/purge", "{}"))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal("Running", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobStatus").GetString());
        }

        Assert.Equal("Running", (await GetAsync(running)).GetProperty("status").GetString());
        Assert.True(await RowsAsync(running) >= rowsBefore);
        Assert.Equal(HttpStatusCode.OK, (await Http.PostJsonAsync($"/api/jobs/{running}/kill", "{}")).StatusCode);
    }

    [Fact]
    public async Task Retention_ADryRunDeletesNothing_ThenOldJobsGo_TheRecentAndTheActiveStay()
    {
        var old1 = await CompletedJobAsync();
        var old2 = await CompletedJobAsync();
        var recent = await CompletedJobAsync();
        var waiting = await Http.SubmitJobAsync($$"""{"type": "synthetic", "parameters": {"items": 1}, "runAfter": "{{DateTimeOffset.UtcNow.AddDays(300):O}}"}""");
        // Aged in the index, as if they had finished two days ago; the waiting job looks old too, but is not finished.
        await fixture.Database.ExecuteAsync(
            "UPDATE job_index SET finished_at = now() - interval '2 days', created_at = now() - interval '3 days' WHERE job_id = ANY(@ids)", ("ids", new[] { old1, old2 }));
        await fixture.Database.ExecuteAsync("UPDATE job_index SET created_at = now() - interval '40 days' WHERE job_id = @id", ("id", waiting));

        var dry = await RunRetentionAsync(dryRun: true);
        Assert.True(dry.GetProperty("dryRun").GetBoolean());
        var listed = dry.GetProperty("sample").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains(old1, listed);
        Assert.Contains(old2, listed);
        Assert.DoesNotContain(recent, listed);
        Assert.DoesNotContain(waiting, listed);
        Assert.Equal(0, dry.GetProperty("purged").GetInt32());
        Assert.True(await RowsAsync(old1) > 0);

        var run = await RunRetentionAsync(dryRun: false);
        Assert.True(run.GetProperty("purged").GetInt32() >= 2);
        Assert.Equal(0, await RowsAsync(old1));
        Assert.Equal(0, await RowsAsync(old2));
        Assert.Equal("Completed", (await GetAsync(recent)).GetProperty("status").GetString());
        Assert.Equal("Queued", (await GetAsync(waiting)).GetProperty("status").GetString());
        var status = await Http.GetFromJsonAsync<JsonElement>(new Uri("/api/admin/retention", UriKind.Relative));
        Assert.Equal(run.GetProperty("startedAt").GetDateTimeOffset(), status.GetProperty("lastRun").GetProperty("startedAt").GetDateTimeOffset());
        Assert.Equal(HttpStatusCode.OK, (await Http.PostJsonAsync($"/api/jobs/{waiting}/cancel", "{}")).StatusCode);
    }

    [Fact]
    public async Task Retention_KeepsTheNewestMaxPastJobsOfAType()
    {
        var jobs = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var id = await Http.SubmitJobAsync("""{"type": "keep-two"}""");
            Assert.Equal(HttpStatusCode.OK, (await Http.PostJsonAsync($"/api/jobs/{id}/cancel", "{}")).StatusCode);
            await Wait.ForAsync($"job {id} in the index as Cancelled", () => IndexStatusAsync(id), s => s == "Cancelled");
            jobs.Add(id);
        }

        await RunRetentionAsync(dryRun: false);

        Assert.Equal(0, await RowsAsync(jobs[0]));
        Assert.Equal(0, await RowsAsync(jobs[1]));
        Assert.Equal("Cancelled", (await GetAsync(jobs[2])).GetProperty("status").GetString());
        Assert.Equal("Cancelled", (await GetAsync(jobs[3])).GetProperty("status").GetString());
    }

    [Fact]
    public async Task FilteredPurge_TakesWhatItNames_ADryRunNothing_AndWithoutAFilterOrForAnActiveStatusIs400()
    {
        var a = await CompletedJobAsync();
        var b = await CompletedJobAsync();
        var keep = await CompletedJobAsync();
        foreach (var (body, field) in new[]
        {
            ("{}", "ids"),
            ("""{"status": ["Running"]}""", "status[0]"),
            ("""{"ids": []}""", "ids"),
            ("""{"ids": ["x"], "limit": 0}""", "limit"),
        })
        {
            using var bad = await Http.PostJsonAsync("/api/admin/jobs/purge", body);
            var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for {field}: {problem}");
        }

        using (var dry = await Http.PostJsonAsync("/api/admin/jobs/purge", $$"""{"ids": ["{{a}}", "{{b}}"], "status": ["Completed"], "dryRun": true}"""))
        {
            var run = await dry.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(2, run.GetProperty("candidates").GetInt32());
            Assert.Equal(0, run.GetProperty("purged").GetInt32());
        }

        Assert.True(await RowsAsync(a) > 0);
        using (var real = await Http.PostJsonAsync("/api/admin/jobs/purge", $$"""{"ids": ["{{a}}", "{{b}}"], "type": "synthetic"}"""))
        {
            Assert.Equal(2, (await real.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("purged").GetInt32());
        }

        Assert.Equal(0, await RowsAsync(a));
        Assert.Equal(0, await RowsAsync(b));
        Assert.Equal("Completed", (await GetAsync(keep)).GetProperty("status").GetString());
    }

    private async Task<string> CompletedJobAsync()
    {
        var id = await Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 2}}""");
        await Wait.ForAsync($"job {id} in the index as Completed", () => IndexStatusAsync(id), s => s == "Completed");
        return id;
    }

    private Task<string?> IndexStatusAsync(string id) =>
        fixture.Database.ScalarAsync<string?>("SELECT status FROM job_index WHERE job_id = @id", ("id", id));

    /// <summary>The job's rows: grain state, index row and journal entries.</summary>
    private async Task<long> RowsAsync(string id) =>
        await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM grain_state WHERE grain_id = 'job/' || @id", ("id", id))
        + await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_index WHERE job_id = @id", ("id", id))
        + await fixture.Database.ScalarAsync<long>("SELECT count(*) FROM job_journal WHERE job_id = @id", ("id", id));

    private async Task<JsonElement> RunRetentionAsync(bool dryRun)
    {
        using var response = await Http.PostJsonAsync("/api/admin/retention/run", $$"""{"dryRun": {{(dryRun ? "true" : "false")}} }""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> GetAsync(string id) => await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative));
}
