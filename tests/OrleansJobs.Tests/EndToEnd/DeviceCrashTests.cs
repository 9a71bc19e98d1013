using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansJobs.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// Device jobs under real kills: the agent process SIGKILLed mid-job (the job pauses within the heartbeat timeout
/// and no other device ever draws it; after a restart and a resume every stroke is drawn once, but those after
/// the last checkpoint, which are counted), and the silos that hold the device grain and the job SIGKILLed during
/// a run (ownership is never lost or doubled: one agent draws, every stroke is on paper). The stroke logs are the paper.
/// </summary>
[RunsFor(45)]
public sealed class DeviceCrashTests(MigratedDatabaseFixture fixture, ITestOutputHelper output) : IClassFixture<MigratedDatabaseFixture>, IDisposable
{
    private const int TimeoutSeconds = 3;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(45);

    private readonly string _folder = Directory.CreateTempSubdirectory("device-crash-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task KilledAgent_PausesItsJobWithinTheTimeout_NoOtherDeviceDrawsIt_AndAfterARestartAndAResumeEveryStrokeIsOnPaper_OnlyThoseAfterTheCheckpointTwice()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new List<SiloProcess> { cluster.StartSilo(extra: Settings), cluster.StartSilo(extra: Settings) };
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos.Count);
        await using var agentA = StartAgent(api, "plotter-ka");
        await using var agentB = StartAgent(api, "plotter-kb");
        await WaitForDeviceAsync(http, "plotter-ka", "Online");
        await WaitForDeviceAsync(http, "plotter-kb", "Online");

        var id = await http.SubmitJobAsync("""{"type": "plot", "device": "plotter-ka", "parameters": {"layers": 3, "strokesPerLayer": 100, "strokeMs": 20}}""");
        await WaitForStrokesAsync("plotter-ka", id, 80);
        await agentA.KillAsync();
        var killed = Stopwatch.StartNew();
        var paused = await WaitForJobAsync(http, id, "Paused");
        output.WriteLine($"paused {killed.Elapsed.TotalSeconds:0.00} s after the agent's SIGKILL");
        Assert.True(killed.Elapsed < TimeSpan.FromSeconds(TimeoutSeconds + 2), $"paused {killed.Elapsed.TotalSeconds:0.0} s after the kill");
        Assert.Equal("heartbeat_lost", paused.GetProperty("interruption").GetString());
        Assert.Equal(1, paused.GetProperty("attempt").GetInt32());
        Assert.Contains(await JournalAsync(http, id), e => e.GetProperty("type").GetString() == "emergency_shutdown");
        var drawnBefore = ReadStrokes("plotter-ka", id).Count;

        // The other plotter is Online and free all along: it never gets the job.
        Assert.Equal(JsonValueKind.Null, (await GetAsync(http, "/api/devices/plotter-kb")).GetProperty("owner").ValueKind);

        await using var restarted = StartAgent(api, "plotter-ka");
        await WaitForDeviceAsync(http, "plotter-ka", "Online");
        Assert.Equal("Paused", (await GetAsync(http, $"/api/jobs/{id}")).GetProperty("status").GetString()); // plot waits for an operator
        using (var resume = await http.PostJsonAsync($"/api/jobs/{id}/resume", "{}"))
        {
            Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        }

        var done = await WaitForJobAsync(http, id, "Completed");
        var redrawn = done.GetProperty("checkpoint").GetProperty("counters").GetProperty("redrawnStrokes").GetInt64();
        var times = AssertOnPaperOnce("plotter-ka", id, 3, 100, redrawn);
        Assert.Equal(drawnBefore - paused.GetProperty("checkpoint").GetProperty("processed").GetInt64(), redrawn);
        Assert.Empty(ReadStrokes("plotter-kb", id));
        output.WriteLine($"{drawnBefore} strokes before the kill, {redrawn} of them after the last checkpoint, drawn again: {times.Count(t => t.Value == 2)}");
        Assert.Contains(await JournalAsync(http, id), e => e.GetProperty("type").GetString() == "recovery");
    }

    [Fact]
    public async Task KilledSilos_OfTheDeviceGrainAndOfTheJob_NeitherLoseNorDoubleTheDevice_AndTheRunGoesOnOrPausesByTheSameRules()
    {
        await using var cluster = new ProcessCluster(fixture.Database);
        var silos = new List<SiloProcess> { cluster.StartSilo(extra: Settings), cluster.StartSilo(extra: Settings) };
        var api = cluster.StartApiHost();
        using var http = api.CreateClient(TimeSpan.FromSeconds(30));
        await ProcessCluster.WaitForReadyAsync(http, silos.Count);
        await using var agent = StartAgent(api, "plotter-ks");
        await using var other = StartAgent(api, "plotter-kt");
        await WaitForDeviceAsync(http, "plotter-ks", "Online");

        var id = await http.SubmitJobAsync("""{"type": "plot", "device": "plotter-ks", "parameters": {"layers": 3, "strokesPerLayer": 200, "strokeMs": 20}}""");
        await WaitForStrokesAsync("plotter-ks", id, 60);

        // The silo of the device grain dies, then the silo of the job (if that is another one); a new silo replaces each.
        async Task KillAndReplaceAsync(string address, string what)
        {
            var victim = silos.SingleOrDefault(s => address.Contains($":{s.SiloPort}:", StringComparison.Ordinal) || address.Contains($":{s.SiloPort}@", StringComparison.Ordinal));
            if (victim is null)
            {
                return; // on a silo started meanwhile, or on one killed already
            }

            await victim.Process.KillAsync();
            silos.Remove(victim);
            silos.Add(cluster.StartSilo(extra: Settings));
            output.WriteLine($"killed the silo of the {what} ({address}) at {ReadStrokes("plotter-ks", id).Count} strokes");
        }

        await KillAndReplaceAsync((await GetAsync(http, "/api/devices/plotter-ks")).GetProperty("silo").GetString()!, "device grain");
        await WaitForStrokesAsync("plotter-ks", id, ReadStrokes("plotter-ks", id).Count + 40);
        await KillAndReplaceAsync(await JobSiloAsync(http, id), "job");

        // By the same rules: the run goes on; or, had the device been silent for its timeout, the job is paused and resumed here.
        var resumes = 0;
        JsonElement job = default;
        await Wait.UntilAsync($"job {id} to complete", async () =>
        {
            job = await GetAsync(http, $"/api/jobs/{id}");
            if (job.GetProperty("status").GetString() == "Paused" && resumes < 3)
            {
                resumes++;
                using var resume = await http.PostJsonAsync($"/api/jobs/{id}/resume", "{}");
            }

            return job.GetProperty("status").GetString() == "Completed";
        }, Deadline, () => Task.FromResult($"{job}\nagent:\n{agent.Output()}"));
        output.WriteLine($"resumed {resumes} times");

        var redrawn = job.GetProperty("checkpoint").GetProperty("counters").GetProperty("redrawnStrokes").GetInt64();
        AssertOnPaperOnce("plotter-ks", id, 3, 200, redrawn);
        Assert.Empty(ReadStrokes("plotter-kt", id)); // never the other device's
        if (resumes == 0)
        {
            Assert.Equal(0, redrawn); // a run that went on drew nothing twice
        }

        var device = await WaitForDeviceAsync(http, "plotter-ks", "Online");
        Assert.Equal(JsonValueKind.Null, device.GetProperty("owner").ValueKind);
    }

    private static Dictionary<string, string> Settings { get; } = new()
    {
        ["Reminders__MinimumReminderPeriod"] = "00:00:01",
        ["Watchdog__ReminderPeriod"] = "00:00:01",
        ["Watchdog__RegisterAfter"] = "00:00:00",
    };

    /// <summary>Every stroke is on paper, each once, but those drawn again after a resume (at most <paramref name="redrawn"/>, each twice); all by one agent.</summary>
    private Dictionary<(int Layer, int Stroke), int> AssertOnPaperOnce(string device, string id, int layers, int strokesPerLayer, long redrawn)
    {
        var strokes = ReadStrokes(device, id);
        var times = strokes.CountBy(s => (s.Layer, s.Stroke)).ToDictionary();
        var all = Enumerable.Range(0, layers).SelectMany(l => Enumerable.Range(0, strokesPerLayer).Select(s => (l, s))).ToHashSet();
        Assert.Equal(all, times.Keys.ToHashSet());
        Assert.All(times.Values, n => Assert.InRange(n, 1, 2));
        Assert.Equal(redrawn, times.Count(t => t.Value == 2));
        Assert.Single(strokes.Select(s => s.Agent).Distinct());
        return times;
    }

    private ManagedProcess StartAgent(ApiHostProcess api, string device) => ProcessCluster.StartPlotterAgent(api, device,
        "--heartbeat-timeout", TimeoutSeconds.ToString(CultureInfo.InvariantCulture), "--heartbeat-interval-ms", "300",
        "--strokes", Path.Combine(_folder, $"{device}.strokes.jsonl"), "--control", Path.Combine(_folder, $"{device}.control"), "--stroke-ms-scale", "0.5");

    private List<DrawnStroke> ReadStrokes(string device, string job) => StrokeLog.Read(Path.Combine(_folder, $"{device}.strokes.jsonl"), job);

    private Task WaitForStrokesAsync(string device, string job, int count) => Wait.UntilAsync(
        $"{count} strokes of job {job} on {device}", () => Task.FromResult(ReadStrokes(device, job).Count >= count), Deadline,
        () => Task.FromResult($"{ReadStrokes(device, job).Count} strokes"), TimeSpan.FromMilliseconds(20));

    private static async Task<string> JobSiloAsync(HttpClient http, string id) =>
        (await GetAsync(http, $"/api/jobs/{id}")).GetProperty("silo").GetString() ?? "";

    private static async Task<JsonElement> GetAsync(HttpClient http, string path) => await http.GetFromJsonAsync<JsonElement>(new Uri(path, UriKind.Relative));

    private static Task<JsonElement> WaitForDeviceAsync(HttpClient http, string device, string state) =>
        Wait.ForAsync($"device {device} to be {state}", () => GetAsync(http, $"/api/devices/{device}"), d => d.GetProperty("state").GetString() == state, Deadline);

    private static Task<JsonElement> WaitForJobAsync(HttpClient http, string id, string status) =>
        Wait.ForAsync($"job {id} to be {status}", () => GetAsync(http, $"/api/jobs/{id}"), j => j.GetProperty("status").GetString() == status, Deadline,
            TimeSpan.FromMilliseconds(50));

    private async Task<List<JsonElement>> JournalAsync(HttpClient http, string id)
    {
        var version = (await GetAsync(http, $"/api/jobs/{id}")).GetProperty("version").GetInt64();
        await Wait.UntilAsync($"the index of {id} to reach version {version}", async () =>
            await fixture.Database.ScalarAsync<long>("SELECT coalesce(max(state_version), 0) FROM job_index WHERE job_id = @id", ("id", id)) >= version);
        return [.. (await GetAsync(http, $"/api/jobs/{id}/journal")).EnumerateArray()];
    }
}
