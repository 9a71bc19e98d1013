using System.Globalization;

namespace OrleansJobs.Benchmarks;

/// <summary>Command line of the benchmark runner. Every load loop is bounded in count and in time.</summary>
public sealed record BenchOptions(
    string Scenario, int Jobs, int Concurrency, int LatencySamples, TimeSpan PhaseLimit, int Silos, int Kills = 5, string Mode = "kill", int FreezeSeconds = 30,
    int HeartbeatTimeoutSeconds = 10, int EventClients = 0, int WarmUpSeconds = 60)
{
    public const string Usage = """
        usage: OrleansJobs.Benchmarks throughput [--jobs N] [--concurrency C] [--latency-samples M] [--max-seconds S] [--silos K] [--event-clients E] [--warm-up-seconds W]
               OrleansJobs.Benchmarks recovery [--mode kill|freeze] [--jobs N] [--kills K] [--freeze-seconds F] [--silos K] [--max-seconds S]
               OrleansJobs.Benchmarks files [--jobs N] [--max-seconds S]
               OrleansJobs.Benchmarks devices [--kills K] [--heartbeat-timeout T] [--max-seconds S]
               OrleansJobs.Benchmarks retention [--jobs N] [--concurrency C] [--max-seconds S]
               OrleansJobs.Benchmarks validator [--jobs N] [--concurrency C] [--max-seconds S]
               OrleansJobs.Benchmarks archive [--jobs N] [--concurrency C] [--max-seconds S]
               OrleansJobs.Benchmarks auth [--jobs N] [--max-seconds S]
               OrleansJobs.Benchmarks events [--jobs N] [--concurrency C] [--silos K] [--max-seconds S]
          --jobs             throughput: trivial jobs submitted (default 20000, at most 200000);
                             recovery: long jobs kept running through the kills (default 30);
                             files: files in the generated library (default 20000, 1000 to 200000);
                             retention: finished jobs for the retention run to delete (default 20000);
                             validator: finished jobs the state validator checks (default 100000);
                             archive: finished jobs exported, then imported (default 100000);
                             auth: requests of each kind timed, over 10 rounds (default 20000);
                             events: jobs of 10 items run while the clients listen (default 1000)
          --mode             recovery: kill (SIGKILL) or freeze (SIGSTOP, then SIGCONT after --freeze-seconds) (default kill)
          --kills            recovery: events (kills or freezes), one silo after another (default 5, at least 5);
                             devices: SIGKILLs of the plotter agent (default 5, at least 5)
          --heartbeat-timeout  devices: the device's heartbeat timeout in seconds (default 10, 1 to 60)
          --freeze-seconds   recovery, freeze: how long each silo stays frozen (default 30, 5 to 300)
          --concurrency      concurrent HTTP clients in that phase (default 64, at most 512; events: event stream clients, default 100)
          --latency-samples  sequential submissions timed for submit-to-Running latency (default 1000)
          --max-seconds      time limit of each phase (default 120)
          --event-clients    throughput: clients holding GET /api/events open through the whole run (default 0)
          --warm-up-seconds  throughput: full load before measuring, so that the processes' JIT has settled (default 60, 0 to 600)
          --silos            silo processes (default 1; recovery: 3)
        The server: ORLEANSJOBS_DB, or else the checkout's private PostgreSQL (deploy/pg.sh).
        """;

    public static BenchOptions? Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("throughput" or "recovery" or "files" or "devices" or "retention" or "validator" or "archive" or "auth" or "events"))
        {
            return null;
        }

        BenchOptions? options = args[0] == "recovery"
            ? new BenchOptions(args[0], 30, 64, 1_000, TimeSpan.FromSeconds(120), 3)
            : args[0] is "validator" or "archive"
                ? new BenchOptions(args[0], 100_000, 64, 1_000, TimeSpan.FromSeconds(args[0] == "archive" ? 600 : 300), 1)
                : args[0] == "events"
                    ? new BenchOptions(args[0], 1_000, 100, 1_000, TimeSpan.FromSeconds(120), 1)
                    : new BenchOptions(args[0], 20_000, 64, 1_000, TimeSpan.FromSeconds(args[0] == "files" ? 600 : 120), 1);
        for (var i = 1; i < args.Length; i += 2)
        {
            if (args[i] == "--mode" && args[0] == "recovery" && i + 1 < args.Length && args[i + 1] is "kill" or "freeze")
            {
                options = options with { Mode = args[i + 1] };
                continue;
            }

            if (i + 1 >= args.Length || !int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return null;
            }

            options = args[i] switch
            {
                "--jobs" when value >= (args[0] == "files" ? 1_000 : 1) && value <= 200_000 => options with { Jobs = value },
                "--kills" when value is >= 5 and <= 50 => options with { Kills = value },
                "--heartbeat-timeout" when value is >= 1 and <= 60 && args[0] == "devices" => options with { HeartbeatTimeoutSeconds = value },
                "--freeze-seconds" when value is >= 5 and <= 300 => options with { FreezeSeconds = value },
                "--concurrency" when value is >= 1 and <= 512 => options with { Concurrency = value },
                "--event-clients" when value is >= 0 and <= 512 && args[0] == "throughput" => options with { EventClients = value },
                "--warm-up-seconds" when value is >= 0 and <= 600 && args[0] == "throughput" => options with { WarmUpSeconds = value },
                "--latency-samples" when value is >= 10 and <= 100_000 => options with { LatencySamples = value },
                "--max-seconds" when value is >= 5 and <= 3_600 => options with { PhaseLimit = TimeSpan.FromSeconds(value) },
                "--silos" when value is >= 1 and <= 5 && (args[0] != "recovery" || value >= 2) => options with { Silos = value },
                _ => null,
            };
            if (options is null)
            {
                return null;
            }
        }

        return options;
    }
}
