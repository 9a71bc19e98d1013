using Npgsql;
using OrleansJobs.Harness;

namespace OrleansJobs.Benchmarks;

/// <summary>
/// The system under measurement: a fresh database on the PostgreSQL server, silo processes and the
/// API host, all on loopback, all stopped (and the database dropped) when disposed.
/// </summary>
public sealed class BenchSystem : IAsyncDisposable
{
    private readonly TestDatabase _database;
    private readonly ProcessCluster _cluster;

    private BenchSystem(TestDatabase database, ProcessCluster cluster, List<SiloProcess> silos, ApiHostProcess api)
    {
        _database = database;
        _cluster = cluster;
        Silos = silos;
        Api = api;
    }

    public IReadOnlyList<SiloProcess> Silos { get; }

    public ApiHostProcess Api { get; }

    public TestDatabase Database => _database;

    public ProcessCluster Cluster => _cluster;

    public static async Task<BenchSystem> StartAsync(int silos, IReadOnlyDictionary<string, string>? settings = null)
    {
        var database = await PostgresServer.CreateDatabaseAsync("bench");
        try
        {
            await database.ApplySchemaAsync();
            var cluster = new ProcessCluster(database, settings);
            var started = new List<SiloProcess>();
            for (var i = 0; i < silos; i++)
            {
                started.Add(cluster.StartSilo(extra: new Dictionary<string, string> { ["Silo__ApplySchemaOnStart"] = "false" }));
            }

            foreach (var silo in started)
            {
                await cluster.WaitForActiveAsync(silo, TimeSpan.FromSeconds(90));
            }

            var api = cluster.StartApiHost();
            using var http = api.CreateClient();
            await ProcessCluster.WaitForReadyAsync(http, silos, TimeSpan.FromSeconds(90));
            return new BenchSystem(database, cluster, started, api);
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>Server-wide write transactions so far: each one that changed data was given a transaction id.</summary>
    public async Task<long> TransactionIdAsync()
    {
        // pg_current_xact_id() itself takes one id; callers subtract the calls they made.
        return await _database.ScalarAsync<long>("SELECT pg_current_xact_id()::text::bigint");
    }

    /// <summary>Committed transactions of this database (reads included), as far as the statistics have been flushed.</summary>
    public async Task<long> CommittedTransactionsAsync()
    {
        return await _database.ScalarAsync<long>(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
    }

    /// <summary>
    /// Methods the JIT has compiled so far in the API host and in all silos together (the .NET runtime's
    /// <c>dotnet.jit.compiled_methods</c>, read from each process's <c>/metrics</c>).
    /// </summary>
    public async Task<(long ApiHost, long Silos)> CompiledMethodsAsync()
    {
        const string Name = "dotnet_jit_compiled_methods_total";
        using var http = Api.CreateClient(TimeSpan.FromSeconds(10));
        var api = (long)MetricValue(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)), Name);
        long silos = 0;
        foreach (var silo in Silos)
        {
            silos += (long)MetricValue(await http.GetStringAsync(silo.Metrics), Name);
        }

        return (api, silos);
    }

    /// <summary>
    /// CPU time (user and system) used so far by the API host, all silos together and this process (the load): a cost per job
    /// less moved by a machine whose capacity changes than a rate is.
    /// </summary>
    public (TimeSpan ApiHost, TimeSpan Silos, TimeSpan Load) CpuTimes()
    {
        static TimeSpan Used(int pid)
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return process.TotalProcessorTime;
        }

        var silos = Silos.Aggregate(TimeSpan.Zero, (sum, silo) => sum + Used(silo.Process.Pid));
        return (Used(Api.Process.Pid), silos, Used(Environment.ProcessId));
    }

    /// <summary>The API host's meters named <paramref name="names"/> (label-less ones), read from its <c>/metrics</c>.</summary>
    public async Task<double[]> ApiHostMetricsAsync(params string[] names)
    {
        using var http = Api.CreateClient(TimeSpan.FromSeconds(10));
        var scrape = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        return [.. names.Select(name => MetricValue(scrape, name))];
    }

    private static double MetricValue(string scrape, string name)
    {
        var line = scrape.Split('\n').FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is ' ' or '{')
            ?? throw new InvalidOperationException($"{name} is not in the scrape");
        // name{labels} value [timestamp]
        var value = line[(line.LastIndexOf('}') is >= 0 and var end ? end + 1 : name.Length)..].Trim().Split(' ')[0];
        return double.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<string> ServerVersionAsync()
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        return connection.PostgreSqlVersion.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await _cluster.DisposeAsync();
        await _database.DisposeAsync();
    }
}
