using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// A device's agent SIGKILLed mid-job, several times: how long until its job shows Paused (the target: the
/// heartbeat timeout plus at most 1 s), and, with the agent started again, how long from its first heartbeat
/// to the first new stroke on paper (the target: at most 2 s; the job's type continues by itself when its
/// device is back). One silo, the API host and the simulated plotter agent, all real processes.
/// </summary>
public static class DevicesBenchmark
{
    private const string Device = "bench-plotter";

    public static async Task<int> RunAsync(BenchOptions options, CancellationToken cancellationToken)
    {
        var folder = Directory.CreateTempSubdirectory("orleansjobs-bench-devices-").FullName;
        var strokes = Path.Combine(folder, "strokes.jsonl");
        try
        {
            Log($"starting a fresh database, one silo and the API host; heartbeat timeout {options.HeartbeatTimeoutSeconds} s, {options.Kills} kills");
            await using var system = await BenchSystem.StartAsync(1, new Dictionary<string, string>
            {
                ["DeviceJobTypes__plot-auto__DeviceKind"] = "plotter",
                ["DeviceJobTypes__plot-auto__ResumeAfterReconnect"] = "true",
            });
            using var http = system.Api.CreateClient(TimeSpan.FromSeconds(30));
            var agent = StartAgent(system, options, folder, strokes);
            try
            {
                await UntilAsync(options, () => StateAsync(http), s => s == "Online", "the device to be Online", cancellationToken);
                // Long enough never to finish during the kills: 100 layers of 1,000 strokes of 20 ms.
                var id = await SubmitAsync(http, cancellationToken);
                var paused = new List<double>();
                var resumed = new List<double>();
                for (var kill = 1; kill <= options.Kills; kill++)
                {
                    var before = StrokesOf(strokes, id).Count;
                    await UntilAsync(options, () => Task.FromResult(StrokesOf(strokes, id).Count), n => n >= before + 50, "strokes before the kill", cancellationToken);
                    await agent.KillAsync();
                    await agent.DisposeAsync();
                    var clock = Stopwatch.StartNew();
                    await UntilAsync(options, () => StatusAsync(http, id), s => s == "Paused", "the job to pause", cancellationToken);
                    paused.Add(clock.Elapsed.TotalSeconds);

                    var drawn = StrokesOf(strokes, id).Count;
                    agent = StartAgent(system, options, folder, strokes);
                    var firstHeartbeat = await UntilAsync(options, () => DeviceAsync(http), d => d.GetProperty("state").GetString() != "Offline",
                        "the agent's first heartbeat", cancellationToken);
                    var heartbeatAt = firstHeartbeat.GetProperty("lastHeartbeatAt").GetDateTimeOffset();
                    var stroke = await UntilAsync(options, () => Task.FromResult(StrokesOf(strokes, id)), s => s.Count > drawn, "the first new stroke", cancellationToken);
                    resumed.Add((stroke[drawn] - heartbeatAt).TotalSeconds);
                    Log($"kill {kill}: Paused {paused[^1]:0.00} s after the SIGKILL; first new stroke {resumed[^1]:0.00} s after the first heartbeat");
                }

                var table = new ResultTable("measure", "runs", "median", "max", "target");
                table.Add("SIGKILL of the agent → job Paused", Format.Number(paused.Count), Seconds(Median(paused)), Seconds(paused.Max()),
                    $"≤ {options.HeartbeatTimeoutSeconds + 1} s (heartbeat timeout + 1 s)");
                table.Add("agent's first heartbeat → first new stroke", Format.Number(resumed.Count), Seconds(Median(resumed)), Seconds(resumed.Max()), "≤ 2 s");
                Console.WriteLine($"Devices: one silo, the API host and the simulated plotter agent (heartbeat every 1 s, timeout {options.HeartbeatTimeoutSeconds} s); " +
                    "the agent SIGKILLed mid-job and started again; the job's type resumes by itself when its device is back.");
                Console.WriteLine();
                Console.Write(table);
                return 0;
            }
            finally
            {
                await agent.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static ManagedProcess StartAgent(BenchSystem system, BenchOptions options, string folder, string strokes) =>
        ProcessCluster.StartPlotterAgent(system.Api, Device,
            "--heartbeat-timeout", options.HeartbeatTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
            "--strokes", strokes, "--control", Path.Combine(folder, "control"));

    private static async Task<string> SubmitAsync(HttpClient http, CancellationToken cancellationToken)
    {
        using var content = new StringContent(
            $$"""{"type": "plot-auto", "device": "{{Device}}", "parameters": {"layers": 100, "strokesPerLayer": 1000, "strokeMs": 20} }""", Encoding.UTF8, "application/json");
        using var response = await http.PostAsync(new Uri("/api/jobs", UriKind.Relative), content, cancellationToken);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken)).GetProperty("id").GetString()!;
    }

    /// <summary>When each stroke of the job was drawn, in order.</summary>
    private static List<DateTimeOffset> StrokesOf(string path, string job) => [.. StrokeLog.Read(path, job).Select(s => s.At)];

    private static async Task<JsonElement> DeviceAsync(HttpClient http) => await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/devices/{Device}", UriKind.Relative));

    /// <summary>The device's state; null until the agent has registered it.</summary>
    private static async Task<string?> StateAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri($"/api/devices/{Device}", UriKind.Relative));
        return response.IsSuccessStatusCode ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString() : null;
    }

    private static async Task<string?> StatusAsync(HttpClient http, string id) =>
        (await http.GetFromJsonAsync<JsonElement>(new Uri($"/api/jobs/{id}", UriKind.Relative))).GetProperty("status").GetString();

    /// <summary>Polls every 10 ms until <paramref name="accept"/> holds, within the phase limit.</summary>
    private static async Task<T> UntilAsync<T>(BenchOptions options, Func<Task<T>> probe, Func<T, bool> accept, string what, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < options.PhaseLimit)
        {
            var value = await probe();
            if (accept(value))
            {
                return value;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), cancellationToken);
        }

        throw new TimeoutException($"{what}: not within {options.PhaseLimit.TotalSeconds} s");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Seconds(double value) => $"{value:0.00} s";

    private static void Log(string message) => Console.Error.WriteLine($"[bench] {message}");
}
