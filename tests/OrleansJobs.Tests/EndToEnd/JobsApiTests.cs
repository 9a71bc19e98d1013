using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process and the API host process on a fresh database, shared by the tests of <see cref="JobsApiTests"/>.</summary>
public sealed class JobsApiFixture() : ApiSystemFixture("api");

public sealed class JobsApiTests(JobsApiFixture fixture) : IClassFixture<JobsApiFixture>
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task Submit_WatchPauseResume_ThenReadTheJournal()
    {
        using var created = await PostJsonAsync("/api/jobs", """{"type": "synthetic", "parameters": {"items": 60, "itemMs": 20}}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var job = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = job.GetProperty("id").GetString()!;
        Assert.Equal($"/api/jobs/{id}", created.Headers.Location!.OriginalString);
        Assert.Equal("Running", job.GetProperty("status").GetString());
        Assert.Equal(0, job.GetProperty("progress").GetProperty("processed").GetInt64());

        await WaitForAsync(id, j => j.GetProperty("progress").GetProperty("processed").GetInt64() >= 5);
        using var pause = await PostJsonAsync($"/api/jobs/{id}/pause", """{"reason": "maintenance window"}""");
        Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        // The item in flight finishes first: Pausing until the run has stopped and its checkpoint is saved.
        Assert.Equal("Pausing", (await pause.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Paused");
        using var resume = await PostJsonAsync($"/api/jobs/{id}/resume", "");
        Assert.Equal(HttpStatusCode.OK, resume.StatusCode);

        var done = await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
        Assert.Equal(60, done.GetProperty("progress").GetProperty("processed").GetInt64());
        Assert.Equal(1.0, done.GetProperty("progress").GetProperty("fraction").GetDouble());
        Assert.Equal(60, await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @id", ("id", id)));
        Assert.Equal(0, await fixture.Database.ScalarAsync<int>(
            "SELECT count(*) FROM synthetic_item_executions WHERE job_id = @id AND executions > 1", ("id", id)));

        var journal = await Wait.ForAsync("the journal to show completion", async () =>
            await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}/journal", UriKind.Relative)),
            j => j.EnumerateArray().Any(e => e.GetProperty("to").GetString() == "Completed"));
        var transitions = journal.EnumerateArray().Where(e => e.GetProperty("type").GetString() == "state_change")
            .Select(e => $"{e.GetProperty("from").GetString()}>{e.GetProperty("to").GetString()}").ToList();
        Assert.Equal(["Queued>Running", "Running>Pausing", "Pausing>Paused", "Paused>Queued", "Queued>Running", "Running>Completed"], transitions);
        Assert.Contains(journal.EnumerateArray(), e => e.GetProperty("reason").GetString() == "maintenance window");
        var lines = await Http.GetStringAsync(new Uri($"/api/jobs/{id}/journal?format=jsonl", UriKind.Relative));
        Assert.Equal(journal.GetArrayLength(), lines.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Submit_ConcurrentDuplicatesWithOneKey_CreateOneJob_AndTheKeyCannotBeReused()
    {
        var key = $"k-{Guid.NewGuid():N}";
        var responses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/jobs")
            {
                Content = new StringContent("""{"type": "synthetic", "parameters": {"items": 3}}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("Idempotency-Key", key);
            using var response = await Http.SendAsync(request);
            return (response.StatusCode, Id: (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        }));

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.Equal(9, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Single(responses.Select(r => r.Id).Distinct());
        using var other = await PostJsonAsync("/api/jobs", $$"""{"type": "synthetic", "parameters": {"items": 4}, "idempotencyKey": "{{key}}"}""");
        Assert.Equal(HttpStatusCode.Conflict, other.StatusCode);
        var id = responses[0].Id!;
        await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Completed");
        Assert.Equal(3, await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM synthetic_item_effects WHERE job_id = @id", ("id", id)));
    }

    [Theory]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 3}""", "body")]
    [InlineData("""[1, 2]""", "body")]
    [InlineData("""{"parameters": {"items": 3}}""", "type")]
    [InlineData("""{"type": "no-such-type", "parameters": {}}""", "type")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": -1}}""", "parameters.items")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 1, "speed": 2}}""", "parameters.speed")]
    [InlineData("""{"type": "synthetic", "parameters": [1]}""", "parameters")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 1}, "priority": 5000}""", "priority")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 1}, "maxAttempts": 0}""", "maxAttempts")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 1}, "checkpoint": {"everyItems": 0}}""", "checkpoint.everyItems")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 1}, "colour": "red"}""", "colour")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 1}, "runAfter": "tomorrow"}""", "runAfter")]
    [InlineData("""{"type": "synthetic", "parameters": {"items": 1}, "runAfter": "2999-01-01T00:00:00Z"}""", "runAfter")]
    public async Task Submit_BadInput_Is400NamingTheField(string body, string field)
    {
        var before = await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM grain_state");

        using var response = await PostJsonAsync("/api/jobs", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}' in {problem}");
        Assert.Equal(before, await fixture.Database.ScalarAsync<int>("SELECT count(*) FROM grain_state"));
    }

    [Fact]
    public async Task Submit_OversizeBody_Is400()
    {
        var huge = "{\"type\": \"synthetic\", \"parameters\": {\"items\": 1, \"pad\": \"" + new string('x', 300 * 1024) + "\"}}";

        using var response = await PostJsonAsync("/api/jobs", huge);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("body", out _));
    }

    [Fact]
    public async Task List_FiltersByStatusAndTime_AndPagesNewestFirstWithACursor()
    {
        var since = Uri.EscapeDataString((await fixture.Database.ScalarAsync<DateTime>("SELECT clock_timestamp()")).ToString("O"));
        var quick = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            using var created = await PostJsonAsync("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1}}""");
            quick.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
        }

        using var longJob = await PostJsonAsync("/api/jobs", """{"type": "synthetic", "parameters": {"items": 1000, "itemMs": 50}}""");
        var longId = (await longJob.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await Wait.UntilAsync("the index to list the five quick jobs as Completed", async () =>
            (await ListAsync($"status=Completed&createdFrom={since}&limit=100")).GetProperty("items").GetArrayLength() == 5);

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await ListAsync($"status=Completed&createdFrom={since}&limit=2" + (cursor is null ? "" : $"&cursor={cursor}"));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Reverse(quick), seen);
        var running = await ListAsync($"status=Running,Queued&createdFrom={since}");
        Assert.Equal(longId, Assert.Single(running.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        // Its silo is alive: the job is not interrupted.
        Assert.Equal(0, (await ListAsync($"interrupted=true&createdFrom={since}")).GetProperty("items").GetArrayLength());
        using var kill = await PostJsonAsync($"/api/jobs/{longId}/kill", "");
        Assert.Equal(HttpStatusCode.OK, kill.StatusCode);
    }

    [Theory]
    [InlineData("status=Runing", "status")]
    [InlineData("status=3", "status")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=501", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("createdFrom=yesterday", "createdFrom")]
    [InlineData("stuck=maybe", "stuck")]
    public async Task List_BadQuery_Is400NamingTheParameter(string query, string field)
    {
        using var response = await Http.GetAsync(new Uri($"/api/jobs?{query}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"no error for '{field}' in {problem}");
    }

    [Fact]
    public async Task UnknownJob_Is404_ForReadsActionsAndJournal()
    {
        var id = Guid.NewGuid().ToString();

        using var get = await Http.GetAsync(new Uri($"/api/jobs/{id}", UriKind.Relative));
        using var kill = await PostJsonAsync($"/api/jobs/{id}/kill", "");
        using var journal = await Http.GetAsync(new Uri($"/api/jobs/{id}/journal", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, kill.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, journal.StatusCode);
        Assert.Equal("application/problem+json", get.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Delete_CancelsGracefully_RepeatsAreHarmless_AndForbiddenActionsAre409()
    {
        using var created = await PostJsonAsync("/api/jobs", """{"type": "synthetic", "parameters": {"items": 500, "itemMs": 20}}""");
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        await WaitForAsync(id, j => j.GetProperty("progress").GetProperty("processed").GetInt64() >= 2);

        using var delete = await Http.DeleteAsync(new Uri($"/api/jobs/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        Assert.Equal("Cancelling", (await delete.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        await WaitForAsync(id, j => j.GetProperty("status").GetString() == "Cancelled");

        using var again = await Http.DeleteAsync(new Uri($"/api/jobs/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        using var pause = await PostJsonAsync($"/api/jobs/{id}/pause", "");
        Assert.Equal(HttpStatusCode.Conflict, pause.StatusCode);
        var problem = await pause.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Cancelled", problem.GetProperty("jobStatus").GetString());
        Assert.Equal(409, problem.GetProperty("status").GetInt32());
        using var badBody = await PostJsonAsync($"/api/jobs/{id}/restart", """{"fromCheckpoint": "yes"}""");
        Assert.Equal(HttpStatusCode.BadRequest, badBody.StatusCode);
        using var badFormat = await Http.GetAsync(new Uri($"/api/jobs/{id}/journal?format=xml", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, badFormat.StatusCode);
    }

    private async Task<JsonElement> ListAsync(string query) =>
        await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs?{query}", UriKind.Relative));

    private Task<HttpResponseMessage> PostJsonAsync(string path, string json) => Http.PostJsonAsync(path, json);

    private Task<JsonElement> WaitForAsync(string id, Func<JsonElement, bool> condition) =>
        Wait.ForAsync($"job {id} to reach the expected state",
            async () => await Http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative)), condition);
}
