using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.EndToEnd.Events;

/// <summary>A silo and an API host with the default progress throttle (Events:ProgressInterval, 250 ms).</summary>
public sealed class ProgressEventFixture() : ApiSystemFixture("progress");

/// <summary>Progress events as a client sees them with the default throttle (docs/events.md).</summary>
[RunsFor(20)]
public sealed class ProgressEventTests(ProgressEventFixture fixture) : IClassFixture<ProgressEventFixture>
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task Progress_IsThrottledToTheNewestPerInterval_WhileTheJobRuns()
    {
        await using var stream = await SseStream.OpenAsync(fixture.Api, "/api/events?type=synthetic");
        var running = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            // 40 items of 50 ms: a progress change every 50 ms for about 2 s.
            running.Add(await fixture.Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 40, "itemMs": 50}}"""));
        }

        var instant = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            instant.Add(await fixture.Http.SubmitJobAsync("""{"type": "synthetic", "parameters": {"items": 1, "itemMs": 0}}"""));
        }

        await stream.WaitForAsync("every job's final transition", events =>
            running.Concat(instant).All(id => events.Any(e => e.Event == "journal" && e.JobId == id && e.Json.GetProperty("to").GetString() == "Completed")),
            TimeSpan.FromSeconds(60));

        foreach (var id in running)
        {
            var events = stream.Events.Where(e => e.JobId == id).ToList();
            var progress = events.Where(e => e.Event == "progress").ToList();
            // About 2 s of changes every 50 ms: 40 changes, at most one event per interval (4/s), and some at all.
            Assert.InRange(progress.Count, 2, 14);
            var times = progress.Select(e => e.Json.GetProperty("at").GetDateTimeOffset()).ToList();
            Assert.All(times.Zip(times.Skip(1)), pair => Assert.True(pair.Second - pair.First >= Interval / 2, $"{pair.First:O} then {pair.Second:O}"));
            Assert.All(progress, e => Assert.Equal("Running", e.Json.GetProperty("status").GetString()));
            // Each is the newest at its time: processed never goes back.
            var processed = progress.Select(e => e.Json.GetProperty("progress").GetProperty("processed").GetInt64()).ToList();
            Assert.Equal(processed.Order(), processed);
            // None after the run ended.
            var completed = events.FindIndex(e => e.Event == "journal" && e.Json.GetProperty("to").GetString() == "Completed");
            Assert.DoesNotContain(events.Skip(completed), e => e.Event == "progress");
        }

        // A run that ends within its first interval says everything through its transitions (a flush landing in its
        // last millisecond may still catch one: at most a few).
        Assert.InRange(instant.Count(id => stream.Events.Any(e => e.JobId == id && e.Event == "progress")), 0, 2);
        Assert.All(instant, id =>
        {
            var events = stream.Events.Where(e => e.JobId == id).ToList();
            var completed = events.FindIndex(e => e.Event == "journal" && e.Json.GetProperty("to").GetString() == "Completed");
            Assert.DoesNotContain(events.Skip(completed), e => e.Event == "progress");
        });
    }
}
