using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.EndToEnd.Events;

/// <summary>A silo and an API host whose streams hold few events (200) and whose silo publishes every progress change.</summary>
public sealed class EventStreamFixture() : ApiSystemFixture("events", clusterSettings: new Dictionary<string, string>
{
    ["Events__ClientBufferSize"] = "200",
    ["Events__ProgressInterval"] = "00:00:00",
    ["ExternalJobTypes__ext-events__MinLeaseDuration"] = "00:00:01",
})
{
    public Uri BaseAddress => Http.BaseAddress!;

    /// <summary>The journal rows of the jobs, in event id order: (event id, job, seq).</summary>
    public Task<List<(long Id, string Job, long Seq)>> JournalAsync(IReadOnlyCollection<string> jobs, long after = 0) => Database.QueryAsync(
        "SELECT event_id, job_id, seq FROM job_journal WHERE job_id = ANY(@ids) AND event_id > @after ORDER BY event_id",
        r => (r.GetInt64(0), r.GetString(1), r.GetInt64(2)), ("ids", jobs.ToArray()), ("after", after));

    public async Task<List<string>> SubmitAsync(int count, int items, int itemMs, string type = "synthetic")
    {
        var body = $$$"""{"type": "{{{type}}}", "parameters": {"items": {{{items}}}, "itemMs": {{{itemMs}}}}, "checkpoint": {"everyItems": 10}}""";
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            ids.Add(await Http.SubmitJobAsync(body));
        }

        return ids;
    }

    public Task WaitForCompletedAsync(IReadOnlyCollection<string> ids, TimeSpan? timeout = null) =>
        Wait.UntilAsync($"{ids.Count} jobs to complete", async () =>
            await Database.ScalarAsync<long>("SELECT count(*) FROM job_index WHERE job_id = ANY(@ids) AND status = 'Completed'", ("ids", ids.ToArray())) == ids.Count,
            timeout ?? TimeSpan.FromSeconds(90));
}

/// <summary>The event streams of one API host: order and completeness, replay, filters, a slow client and bad input (docs/events.md).</summary>
[RunsFor(90)]
public sealed class EventStreamTests(EventStreamFixture fixture) : IClassFixture<EventStreamFixture>
{
    [Fact]
    public async Task AllEvents_ManyJobs_DeliverEveryJournalEntryOnceInCommitOrder()
    {
        await using var stream = await SseStream.OpenAsync(fixture.Api, "/api/events?type=synthetic");

        var ids = await fixture.SubmitAsync(30, items: 20, itemMs: 10);
        await fixture.WaitForCompletedAsync(ids);

        var expected = await AssertSameAsJournalAsync(stream, ids);
        Assert.All(ids, id => Assert.Contains(expected, r => r.Job == id));
        Assert.Contains(stream.Events, e => e.Event == "progress" && ids.Contains(e.JobId));
    }

    [Fact]
    public async Task JournalEvents_LiveAndReplayed_CarryTheEntriesAsStored()
    {
        await using var live = await SseStream.OpenAsync(fixture.Api, "/api/events?type=synthetic");
        var ids = await fixture.SubmitAsync(2, items: 100, itemMs: 20);
        // A reason the frame must escape: quotes, a line break, markup and characters beyond ASCII.
        const string reason = "stop \"now\"\nplease </script> — ünïcödé ✓";
        using (var cancel = await fixture.Http.PostAsJsonAsync(new Uri($"/api/jobs/{ids[0]}/cancel", UriKind.Relative), new { reason }))
        {
            cancel.EnsureSuccessStatusCode();
        }

        await fixture.WaitForCompletedAsync([ids[1]]);
        await Wait.UntilAsync("the first job to be cancelled", async () =>
            await fixture.Database.ScalarAsync<string>("SELECT status FROM job_index WHERE job_id = @id", ("id", ids[0])) == "Cancelled");
        var expected = await AssertSameAsJournalAsync(live, ids);
        var before = expected[0].Id - 1;
        await using var replayed = await SseStream.OpenAsync(fixture.Api, "/api/events?type=synthetic", lastEventId: before.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await AssertSameAsJournalAsync(replayed, ids, before);

        var liveEntries = live.Journal.Where(e => ids.Contains(e.JobId)).ToList();
        var replayedEntries = replayed.Journal.Where(e => ids.Contains(e.JobId)).ToList();
        await JournalEventCheck.AssertAsStoredAsync(fixture.Database, liveEntries);
        await JournalEventCheck.AssertAsStoredAsync(fixture.Database, replayedEntries);
        Assert.Contains(liveEntries, e => e.Json.TryGetProperty("reason", out var r) && r.GetString() == reason);
        Assert.All(liveEntries, e => Assert.True(e.Json.TryGetProperty("committedAt", out _), e.Data));
    }

    [Fact]
    public async Task JobEvents_WithoutLastEventId_ReplayTheWholeJournalThenGoLive()
    {
        var id = (await fixture.SubmitAsync(1, items: 40, itemMs: 50))[0];
        await Wait.UntilAsync("the job to have journal entries", async () => (await fixture.JournalAsync([id])).Count >= 2);

        await using var stream = await SseStream.OpenAsync(fixture.Api, $"/api/jobs/{id}/events");
        await stream.WaitForAsync("the job's completion", events => events.Any(e => e.Event == "journal" && e.Json.GetProperty("to").GetString() == "Completed"));

        await AssertSameAsJournalAsync(stream, [id]);
        Assert.All(stream.Events, e => Assert.Equal(id, e.JobId));
    }

    [Fact]
    public async Task LastEventId_AsHeaderOrQuery_ReplaysEverythingAfterIt_ThenGoesLive()
    {
        var ids = await fixture.SubmitAsync(5, items: 5, itemMs: 10);
        await fixture.WaitForCompletedAsync(ids);
        var journal = await fixture.JournalAsync(ids);
        var after = journal[journal.Count / 2].Id;

        await using var byHeader = await SseStream.OpenAsync(fixture.Api, "/api/events", lastEventId: after.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var byQuery = await SseStream.OpenAsync(fixture.Api, $"/api/jobs/{ids[^1]}/events?lastEventId={after}");
        var later = await fixture.SubmitAsync(1, items: 3, itemMs: 10);
        await fixture.WaitForCompletedAsync(later);

        await AssertSameAsJournalAsync(byHeader, [.. ids, .. later], after);
        await AssertSameAsJournalAsync(byQuery, [ids[^1]], after);
    }

    [Fact]
    public async Task Filters_PassOnlyTheEventsOfMatchingJobs()
    {
        await using var completed = await SseStream.OpenAsync(fixture.Api, "/api/events?status=Completed,Cancelled");
        await using var external = await SseStream.OpenAsync(fixture.Api, "/api/events?type=ext-events");
        await using var library = await SseStream.OpenAsync(fixture.Api, "/api/events?libraryId=no-such-library");
        await using var device = await SseStream.OpenAsync(fixture.Api, "/api/events?deviceId=no-such-device&type=synthetic");

        var synthetic = await fixture.SubmitAsync(3, items: 5, itemMs: 10);
        var queued = (await fixture.SubmitAsync(1, items: 1, itemMs: 1, type: "ext-events"))[0];
        await fixture.WaitForCompletedAsync(synthetic);
        await completed.WaitForAsync("each job's completion", events =>
            synthetic.All(id => events.Any(e => e.JobId == id && e.Json.GetProperty("to").GetString() == "Completed")));
        await external.WaitForAsync("the external job's submission", events => events.Any(e => e.JobId == queued));

        Assert.All(completed.Events, e => Assert.True(e.Json.GetProperty("status").GetString() is "Completed" or "Cancelled", e.Data));
        Assert.DoesNotContain(completed.Events, e => e.JobId == queued);
        Assert.All(external.Events, e => Assert.Equal("ext-events", e.Json.GetProperty("jobType").GetString()));
        Assert.Empty(library.Events);
        Assert.Empty(device.Events);
    }

    [Fact]
    public async Task SlowClient_IsToldToReconnect_WhileTheClusterGoesOn_AndMissesNothingAfterReconnecting()
    {
        var slow = await SseStream.OpenAsync(fixture.Api, "/api/events?type=synthetic", read: false);
        await using var _ = slow;

        // Progress of every item is an event here: far more than the client's 200 and what socket buffers hold.
        var ids = await fixture.SubmitAsync(150, items: 200, itemMs: 1);
        await fixture.WaitForCompletedAsync(ids, TimeSpan.FromSeconds(120));

        slow.StartReading();
        await slow.Ended.WaitAsync(TimeSpan.FromSeconds(60));
        var last = slow.Events[^1];
        Assert.Equal("reconnect", last.Event);
        var resumeAt = last.Json.GetProperty("lastEventId").GetInt64();
        Assert.Equal(slow.Journal.Count == 0 ? 0 : slow.Journal[^1].EventId, resumeAt);

        await using var again = await SseStream.OpenAsync(fixture.Api, "/api/events?type=synthetic", lastEventId: resumeAt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var expected = await fixture.JournalAsync(ids);
        await again.WaitForAsync("the rest of the journal", events => events.Count(e => e.Event == "journal" && ids.Contains(e.JobId)) >= expected.Count(r => r.Id > resumeAt));
        var received = slow.Journal.Concat(again.Journal).Where(e => ids.Contains(e.JobId)).Select(e => e.EventId).ToList();
        Assert.Equal(expected.Select(r => r.Id), received);

        // The host's meters say so; the silo's say what it sent.
        var host = PrometheusText.Parse(await fixture.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative)));
        Assert.True(host.Value("orleansjobs_events_cut_off_total") >= 1);
        Assert.True(host.Value("orleansjobs_events_streams") >= 1);
        var hostReceived = host.Value("orleansjobs_events_received_total");
        Assert.True(hostReceived >= again.Events.Count(e => e.Id is not null && e.EventId > resumeAt), $"received {hostReceived}");
        using var scraper = new HttpClient();
        var silo = PrometheusText.Parse(await scraper.GetStringAsync(fixture.Silo.Metrics));
        Assert.True(silo.Value("orleansjobs_events_sent_total") >= hostReceived, $"sent {silo.Value("orleansjobs_events_sent_total")}, received {hostReceived}");
        // Drops are allowed under a burst like this one (every progress change is an event here); the count must be served.
        Assert.Contains(silo, sample => sample.Name == "orleansjobs_events_dropped_total");
    }

    [Theory]
    [InlineData("/api/events?status=Bogus", null, "status")]
    [InlineData("/api/events?status=Running,1", null, "status")]
    [InlineData("/api/events?lastEventId=abc", null, "lastEventId")]
    [InlineData("/api/events?lastEventId=-1", null, "lastEventId")]
    [InlineData("/api/events?lastEventId=99999999999999999999", null, "lastEventId")]
    [InlineData("/api/events?libraryId=no%20such", null, "libraryId")]
    [InlineData("/api/events?deviceId=%01", null, "deviceId")]
    [InlineData("/api/events?type=%00", null, "type")]
    [InlineData("/api/events", "x1", "lastEventId")]
    [InlineData("/api/events", "-5", "lastEventId")]
    [InlineData("/api/events?lastEventId=3", "4", "lastEventId")]
    [InlineData("/api/jobs/some-job/events?lastEventId=1.5", null, "lastEventId")]
    [InlineData("/api/jobs/some-job/events", "1e3", "lastEventId")]
    public async Task BadInput_Is400_NamingTheField(string path, string? header, string field)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        if (header is not null)
        {
            request.Headers.TryAddWithoutValidation("Last-Event-ID", header);
        }

        using var response = await fixture.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{path}: {problem}");
    }

    [Fact]
    public async Task JobEvents_OfAnUnknownJob_Is404()
    {
        using var response = await fixture.Http.GetAsync(new Uri("/api/jobs/no-such-job/events", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Waits until the stream holds the jobs' journal after <paramref name="after"/>, then checks it is exactly that, in order.</summary>
    private async Task<List<(long Id, string Job, long Seq)>> AssertSameAsJournalAsync(SseStream stream, IReadOnlyCollection<string> ids, long after = 0)
    {
        List<(long Id, string Job, long Seq)> expected = [];
        await Wait.UntilAsync("the stream to hold the jobs' journal", async () =>
        {
            expected = await fixture.JournalAsync(ids, after);
            return stream.Journal.Count(e => ids.Contains(e.JobId)) >= expected.Count;
        }, TimeSpan.FromSeconds(60), () => Task.FromResult($"{stream.Journal.Count(e => ids.Contains(e.JobId))} of {expected.Count}"));
        var received = stream.Journal.Where(e => ids.Contains(e.JobId)).Select(e => (e.EventId, e.JobId, e.Json.GetProperty("seq").GetInt64())).ToList();
        Assert.Equal(expected, received);
        return expected;
    }
}
