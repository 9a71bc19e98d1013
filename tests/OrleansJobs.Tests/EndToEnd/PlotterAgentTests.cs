using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>A silo process (the built-in <c>plot</c> job type) and the API host process, for <see cref="PlotterAgentTests"/>.</summary>
public sealed class PlotterAgentFixture() : ApiSystemFixture("plotter-agent", new Dictionary<string, string>
{
    // The watchdog looks at running jobs every second: it must not take an agent's stop or an unplugged device for a stall.
    ["Reminders__MinimumReminderPeriod"] = "00:00:01",
    ["Watchdog__ReminderPeriod"] = "00:00:01",
    ["Watchdog__RegisterAfter"] = "00:00:00",
});

/// <summary>
/// The simulated plotter agent as a real process against a silo process, the API host process and PostgreSQL:
/// it registers and heartbeats its device and draws a plot job stroke by stroke; unplugged through its control
/// file, its job pauses within the heartbeat timeout and nothing is drawn until an operator resumes it; stopped
/// with SIGTERM, it gives the job back at a checkpoint and a new agent finishes it. The stroke log is the paper.
/// </summary>
[RunsFor(30)]
public sealed partial class PlotterAgentTests(PlotterAgentFixture fixture) : IClassFixture<PlotterAgentFixture>, IDisposable
{
    // 20 ms strokes at 0.5: 10 ms each, so that a job of 300 strokes runs for seconds, long enough to interrupt.
    private const string StrokeMsScale = "0.5";
    private const string Plot300 = """{"layers": 3, "strokesPerLayer": 100, "strokeMs": 20}""";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _folder = Directory.CreateTempSubdirectory("plotter-agent-").FullName;

    private HttpClient Http => fixture.Http;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Agent_HeartbeatsItsDevice_AnswersACheck_AndDrawsAPlotJobToCompletion_EachStrokeOnceInOrder()
    {
        const string device = "plotter-flow";
        await using var agent = await StartAgentAsync(device);
        var online = await WaitForDeviceAsync(agent, device, "Online");
        Assert.Equal("plotter", online.GetProperty("kind").GetString());
        Assert.Equal($"{device}-agent", online.GetProperty("agent").GetString());
        Assert.Equal(10, online.GetProperty("heartbeatTimeoutSeconds").GetInt32());

        using (var check = await Http.PostJsonAsync($"/api/devices/{device}/check", "{}"))
        {
            Assert.Equal(HttpStatusCode.Accepted, check.StatusCode);
        }

        var answered = await Wait.ForAsync($"device {device}'s check to be answered", () => GetAsync($"/api/devices/{device}"),
            d => d.GetProperty("check").TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.True, Deadline);
        Assert.StartsWith("pen up/down and carriage home in ", answered.GetProperty("check").GetProperty("detail").GetString(), StringComparison.Ordinal);

        var id = await Http.SubmitJobAsync($$"""{"type": "plot", "device": "{{device}}", "parameters": {"layers": 3, "strokesPerLayer": 40, "strokeMs": 20} }""");
        var done = await WaitForJobAsync(agent, id, "Completed");
        var checkpoint = done.GetProperty("checkpoint");
        Assert.Equal("3:0", checkpoint.GetProperty("cursor").GetString());
        Assert.Equal(120, checkpoint.GetProperty("processed").GetInt64());
        Assert.Equal(3, checkpoint.GetProperty("counters").GetProperty("layersDone").GetInt64());
        Assert.Equal(0, checkpoint.GetProperty("counters").GetProperty("redrawnStrokes").GetInt64());
        var strokes = ReadStrokes(device, id);
        Assert.Equal(AllStrokes(3, 40), strokes.Select(s => (s.Layer, s.Stroke)));
        Assert.All(strokes, s => Assert.Equal($"{device}-agent", s.Agent));

        // Parameters out of range fail the attempt, saying which and why.
        var bad = await Http.SubmitJobAsync($$"""{"type": "plot", "device": "{{device}}", "maxAttempts": 1, "parameters": {"layers": 0} }""");
        var failed = await WaitForJobAsync(agent, bad, "Failed");
        Assert.Contains("layers must be a whole number from 1 to 100", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(ReadStrokes(device, bad));
    }

    [Fact]
    public async Task Unplugged_PausesTheJobWithinTheTimeout_DrawsNothing_AndAfterAResumeEveryStrokeIsDrawn_OnlyThoseAfterTheCheckpointTwice()
    {
        const string device = "plotter-unplug";
        const int timeoutSeconds = 4;
        await using var agent = await StartAgentAsync(device, timeoutSeconds);
        await WaitForDeviceAsync(agent, device, "Online");
        var id = await Http.SubmitJobAsync($$"""{"type": "plot", "device": "{{device}}", "parameters": {{Plot300}} }""");
        await WaitForStrokesAsync(agent, device, id, 60);

        await File.WriteAllTextAsync(ControlPath(device), "disconnect");
        var unplugged = Stopwatch.StartNew();
        await WaitForOutputAsync(agent, "Disconnected:");
        var drawnBefore = ReadStrokes(device, id).Count;
        var paused = await WaitForJobAsync(agent, id, "Paused");
        Assert.True(unplugged.Elapsed < TimeSpan.FromSeconds(timeoutSeconds + 2), $"paused {unplugged.Elapsed.TotalSeconds:0.0} s after the unplug");
        Assert.Equal("heartbeat_lost", paused.GetProperty("interruption").GetString());
        // The device's silence or the job's lapsed lease (both as long as the timeout) pauses the job, whichever is seen first.
        var offline = await WaitForDeviceAsync(agent, device, "Offline");
        Assert.True(unplugged.Elapsed < TimeSpan.FromSeconds(timeoutSeconds + 2), $"Offline {unplugged.Elapsed.TotalSeconds:0.0} s after the unplug");
        Assert.Equal(id, offline.GetProperty("owner").GetString());
        // The library finds the lease lost (no report got through for its duration): the handler stops.
        await WaitForOutputAsync(agent, $"Job {id}: lease lost");
        Assert.Equal(drawnBefore, ReadStrokes(device, id).Count);

        await File.WriteAllTextAsync(ControlPath(device), "connect");
        await WaitForOutputAsync(agent, "Reconnected:");
        await WaitForDeviceAsync(agent, device, "Online");
        Assert.Equal("Paused", (await GetAsync($"/api/jobs/{id}")).GetProperty("status").GetString()); // plot waits for an operator
        Assert.Equal(drawnBefore, ReadStrokes(device, id).Count);
        using (var resume = await Http.PostJsonAsync($"/api/jobs/{id}/resume", "{}"))
        {
            Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        }

        var done = await WaitForJobAsync(agent, id, "Completed");
        var from = paused.GetProperty("checkpoint").GetProperty("cursor").GetString();
        var redrawn = 0;
        if (drawnBefore == paused.GetProperty("checkpoint").GetProperty("processed").GetInt32())
        {
            // Unplugged right at a checkpoint: nothing to draw again, and the agent says so.
            Assert.Contains(Messages(done), m => m.Text == $"resuming at {from}: no stroke was drawn after the last checkpoint");
        }
        else
        {
            var warning = Assert.Single(Messages(done), m => m.Text.Contains("drawn again", StringComparison.Ordinal));
            Assert.Equal("warning", warning.Level, ignoreCase: true);
            var said = RedrawnMessage().Match(warning.Text);
            Assert.True(said.Success, warning.Text);
            Assert.Equal(from, said.Groups["from"].Value);
            redrawn = int.Parse(said.Groups["count"].Value, CultureInfo.InvariantCulture);
        }

        var times = ReadStrokes(device, id).CountBy(s => (s.Layer, s.Stroke)).ToDictionary();
        Assert.Equal(AllStrokes(3, 100).ToHashSet(), times.Keys.ToHashSet());
        var twice = AllStrokes(3, 100).Where(s => times[s] == 2).ToList();
        Assert.All(times.Values, n => Assert.InRange(n, 1, 2));
        // Exactly the strokes after the checkpoint the job resumed from: drawn before the unplug, then again.
        Assert.Equal(redrawn, twice.Count);
        Assert.Equal(AllStrokes(3, 100).SkipWhile(s => $"{s.Layer}:{s.Stroke}" != from).Take(redrawn), twice);
        Assert.Equal(drawnBefore - (paused.GetProperty("checkpoint").GetProperty("processed").GetInt32()), redrawn);
        Assert.Equal(redrawn, done.GetProperty("checkpoint").GetProperty("counters").GetProperty("redrawnStrokes").GetInt64());
        var journal = await JournalAsync(id);
        Assert.Contains(journal, e => e.GetProperty("type").GetString() == "emergency_shutdown"
            && e.GetProperty("data").GetProperty("cause").GetString() == "heartbeat_lost");
        Assert.Contains(journal, e => e.GetProperty("type").GetString() == "recovery");
    }

    [Fact]
    public async Task Sigterm_MidJob_ExitsZero_TheJobWaitsQueuedOnItsDeviceWithItsCheckpoint_AndARestartedAgentFinishesIt()
    {
        const string device = "plotter-term";
        var id = "";
        await using (var agent = await StartAgentAsync(device))
        {
            await WaitForDeviceAsync(agent, device, "Online");
            id = await Http.SubmitJobAsync($$"""{"type": "plot", "device": "{{device}}", "parameters": {{Plot300}} }""");
            await WaitForStrokesAsync(agent, device, id, 60);
            await agent.TerminateAsync(Deadline);
            Assert.True(agent.ExitCode == 0, $"exit code {agent.ExitCode}:\n{agent.Output()}");
            Assert.Contains($"Job {id} released at its last checkpoint", agent.Output(), StringComparison.Ordinal);
        }

        var drawn = ReadStrokes(device, id).Count;
        Assert.InRange(drawn, 60, 299);
        var queued = await GetAsync($"/api/jobs/{id}");
        Assert.Equal("Queued", queued.GetProperty("status").GetString());
        Assert.Contains($"waiting for the agent of device '{device}'", queued.GetProperty("queuedReason").GetString(), StringComparison.Ordinal);
        // The stroke under the pen was finished and checkpointed: the checkpoint is exactly what is on paper.
        Assert.Equal($"{drawn / 100}:{drawn % 100}", queued.GetProperty("checkpoint").GetProperty("cursor").GetString());
        Assert.Equal(drawn, queued.GetProperty("checkpoint").GetProperty("processed").GetInt32());
        Assert.Equal(id, (await GetAsync($"/api/devices/{device}")).GetProperty("owner").GetString());
        Assert.Contains(await JournalAsync(id), e => e.GetProperty("type").GetString() == "handoff");

        await using var again = await StartAgentAsync(device);
        var done = await WaitForJobAsync(again, id, "Completed");
        Assert.Equal(AllStrokes(3, 100), ReadStrokes(device, id).Select(s => (s.Layer, s.Stroke)));
        Assert.Contains(Messages(done), m => m.Text == $"resuming at {drawn / 100}:{drawn % 100}: no stroke was drawn after the last checkpoint");
        Assert.DoesNotContain(Messages(done), m => m.Text.Contains("drawn again", StringComparison.Ordinal));
        await again.TerminateAsync(Deadline);
        Assert.Equal(0, again.ExitCode);
    }

    [GeneratedRegex(@"^(?<count>\d+) strokes drawn after the last checkpoint \(from (?<from>\d+:\d+)\) are drawn again$")]
    private static partial Regex RedrawnMessage();

    private static List<(int Layer, int Stroke)> AllStrokes(int layers, int strokesPerLayer) =>
        [.. Enumerable.Range(0, layers).SelectMany(layer => Enumerable.Range(0, strokesPerLayer).Select(stroke => (layer, stroke)))];

    private static List<(string Level, string Text)> Messages(JsonElement job) =>
        [.. job.GetProperty("messages").EnumerateArray().Select(m => (m.GetProperty("level").GetString()!, m.GetProperty("text").GetString()!))];

    /// <summary>Starts the agent of <paramref name="device"/> with a worker key made for that device alone, as an operator would.</summary>
    private async Task<ManagedProcess> StartAgentAsync(string device, int heartbeatTimeoutSeconds = 10) => ProcessCluster.StartPlotterAgent(
        Http.BaseAddress!, await fixture.CreateKeyAsync($"agent of {device} {Guid.NewGuid():N}", ["worker"], devices: [device]), device,
        "--heartbeat-timeout", heartbeatTimeoutSeconds.ToString(CultureInfo.InvariantCulture), "--heartbeat-interval-ms", "300",
        "--strokes", StrokesPath(device), "--control", ControlPath(device), "--stroke-ms-scale", StrokeMsScale);

    private string StrokesPath(string device) => Path.Combine(_folder, $"{device}.strokes.jsonl");

    private string ControlPath(string device) => Path.Combine(_folder, $"{device}.control");

    private List<DrawnStroke> ReadStrokes(string device, string job) => StrokeLog.Read(StrokesPath(device), job);

    private async Task<JsonElement> GetAsync(string path) => await Http.GetFromJsonAsync<JsonElement>(new Uri(path, UriKind.Relative));

    private static Task WaitForOutputAsync(ManagedProcess agent, string text) => Wait.UntilAsync(
        $"{agent.Name} to log '{text}'", () => Task.FromResult(agent.Output().Contains(text, StringComparison.Ordinal)), Deadline,
        () => Task.FromResult(agent.Output()));

    private Task WaitForStrokesAsync(ManagedProcess agent, string device, string job, int count) => Wait.UntilAsync(
        $"{count} strokes of job {job} on {device}", () => Task.FromResult(ReadStrokes(device, job).Count >= count), Deadline,
        () => Task.FromResult($"{ReadStrokes(device, job).Count} strokes; agent:\n{agent.Output()}"), TimeSpan.FromMilliseconds(20));

    private async Task<JsonElement> WaitForDeviceAsync(ManagedProcess agent, string device, string state)
    {
        JsonElement last = default;
        await Wait.UntilAsync($"device {device} to be {state}", async () =>
        {
            last = await GetAsync($"/api/devices/{device}");
            return last.GetProperty("state").GetString() == state;
        }, Deadline, () => Task.FromResult($"{last}; agent:\n{agent.Output()}"));
        return last;
    }

    private async Task<JsonElement> WaitForJobAsync(ManagedProcess agent, string id, string status)
    {
        JsonElement last = default;
        await Wait.UntilAsync($"job {id} to be {status}", async () =>
        {
            last = await GetAsync($"/api/jobs/{id}");
            return last.GetProperty("status").GetString() == status;
        }, Deadline, () => Task.FromResult($"{last}; agent:\n{agent.Output()}"));
        return last;
    }

    private async Task<List<JsonElement>> JournalAsync(string id)
    {
        // The journal is a projection: wait until it has caught up with the job's state.
        var version = (await GetAsync($"/api/jobs/{id}")).GetProperty("version").GetInt64();
        await Wait.UntilAsync($"the index of {id} to reach version {version}", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
        return [.. (await GetAsync($"/api/jobs/{id}/journal")).EnumerateArray()];
    }
}
