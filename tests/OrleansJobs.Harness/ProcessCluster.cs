using System.Net.Http.Json;
using System.Text.Json;

namespace OrleansJobs.Harness;

/// <summary>A silo process of a <see cref="ProcessCluster"/>.</summary>
public sealed record SiloProcess(ManagedProcess Process, int SiloPort, int GatewayPort, int MetricsPort)
{
    /// <summary>Endpoint as stored in the membership table.</summary>
    public string Endpoint => $"127.0.0.1:{SiloPort}";

    /// <summary>The silo's Prometheus scrape endpoint.</summary>
    public Uri Metrics => new($"http://127.0.0.1:{MetricsPort}/metrics");
}

/// <summary>The API host process of a <see cref="ProcessCluster"/>; <paramref name="AdminKey"/> is the cluster's configured admin key.</summary>
public sealed record ApiHostProcess(ManagedProcess Process, Uri BaseAddress, string AdminKey)
{
    /// <summary>A client of this host that sends <paramref name="key"/> (the admin key by default) with every request.</summary>
    public HttpClient CreateClient(TimeSpan? timeout = null, string? key = null) =>
        ApiKeys.Authorize(new HttpClient { BaseAddress = BaseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(30) }, key ?? AdminKey);
}

/// <summary>Status values Orleans writes to the membership table.</summary>
public enum MembershipStatus
{
    Created = 1,
    Joining = 2,
    Active = 3,
    ShuttingDown = 4,
    Stopping = 5,
    Dead = 6,
}

/// <summary>One row of OrleansMembershipTable.</summary>
public sealed record MembershipRow(string Address, int Port, int Generation, MembershipStatus Status)
{
    public string Endpoint => $"{Address}:{Port}";
}

/// <summary>
/// A cluster of real processes (the built Silo and ApiHost) on one database, with its own
/// cluster id so several can share a server. Everything it starts is killed when disposed.
/// </summary>
public sealed class ProcessCluster(TestDatabase database, IReadOnlyDictionary<string, string>? settings = null) : IAsyncDisposable
{
    private readonly List<ManagedProcess> _processes = [];

    /// <summary>What a silo process writes once it has fully started (see the silo's SiloProgram).</summary>
    public const string StartedLine = "Silo started: ";

    public string ClusterId { get; } = $"c{Guid.NewGuid():N}"[..12];

    /// <summary>The admin key every API host of this cluster is configured with (<c>Auth:Keys:0</c>).</summary>
    public string AdminKey { get; } = ApiKeys.NewKey();

    public TestDatabase Database => database;

    public IReadOnlyDictionary<string, string> CommonEnvironment => BuildEnvironment();

    /// <summary>Starts a silo process; pass the ports of a dead silo to restart it in place.</summary>
    public SiloProcess StartSilo(int? siloPort = null, int? gatewayPort = null, IReadOnlyDictionary<string, string>? extra = null)
    {
        var silo = siloPort ?? FreePort.Next();
        var gateway = gatewayPort ?? FreePort.Next();
        var environment = BuildEnvironment(extra);
        environment["Silo__SiloPort"] = silo.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment["Silo__GatewayPort"] = gateway.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var metrics = FreePort.Next();
        environment["Metrics__Port"] = metrics.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = ManagedProcess.StartDotnet($"silo:{silo}", Repository.SiloDirectory, "OrleansJobs.Silo.dll", environment);
        lock (_processes)
        {
            _processes.Add(process);
        }

        return new SiloProcess(process, silo, gateway, metrics);
    }

    public ApiHostProcess StartApiHost(IReadOnlyDictionary<string, string>? extra = null)
    {
        var port = FreePort.Next();
        var environment = BuildEnvironment(extra);
        environment["Urls"] = $"http://127.0.0.1:{port}";
        var process = ManagedProcess.StartDotnet($"api:{port}", Repository.ApiHostDirectory, "OrleansJobs.ApiHost.dll", environment);
        lock (_processes)
        {
            _processes.Add(process);
        }

        return new ApiHostProcess(process, new Uri($"http://127.0.0.1:{port}"), AdminKey);
    }

    /// <summary>
    /// Starts the simulated plotter agent for <paramref name="device"/> against <paramref name="api"/>, with its
    /// other options in <paramref name="args"/>. It needs no database, so it is the caller's to stop (dispose).
    /// </summary>
    public static ManagedProcess StartPlotterAgent(ApiHostProcess api, string device, params string[] args) =>
        StartPlotterAgent(api.BaseAddress, api.AdminKey, device, args);

    /// <summary>Starts the simulated plotter agent with the API key <paramref name="key"/> (a worker key naming the device, say).</summary>
    public static ManagedProcess StartPlotterAgent(Uri api, string key, string device, params string[] args) =>
        ManagedProcess.StartDotnet($"plotter:{device}", Repository.PlotterAgentDirectory, "OrleansJobs.PlotterAgent.dll",
            new Dictionary<string, string> { ["PLOTTER_API_KEY"] = key }, ["--api", api.ToString(), "--device", device, .. args]);

    /// <summary>This cluster's rows in the membership table.</summary>
    public Task<List<MembershipRow>> MembershipAsync() => database.QueryAsync(
        "SELECT address, port, generation, status FROM orleansmembershiptable WHERE deploymentid = @cluster",
        r => new MembershipRow(r.GetString(0), r.GetInt32(1), r.GetInt32(2), (MembershipStatus)r.GetInt32(3)),
        ("cluster", ClusterId));

    /// <summary>
    /// Waits until the silo's newest generation is Active in the membership table and the process
    /// says it has started. The row turns Active before the silo's hosted services have started; a
    /// SIGTERM in between cancels a start-up instead of stopping a running silo.
    /// </summary>
    public async Task WaitForActiveAsync(SiloProcess silo, TimeSpan? timeout = null, int newerThanGeneration = 0)
    {
        await WaitForStatusAsync(silo, MembershipStatus.Active, timeout ?? TimeSpan.FromSeconds(60), newerThanGeneration);
        // Hosted services start within moments of Active; this wait has its own short deadline.
        await Wait.UntilAsync(
            $"silo {silo.Endpoint} to report that it has started",
            () => Task.FromResult(silo.Process.Output().Contains(StartedLine, StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30),
            () => Task.FromResult(silo.Process.Output()));
    }

    /// <summary>Waits until the silo's newest generation (newer than <paramref name="newerThanGeneration"/>) has that status.</summary>
    public async Task WaitForStatusAsync(SiloProcess silo, MembershipStatus status, TimeSpan timeout, int newerThanGeneration = 0)
    {
        await Wait.UntilAsync(
            $"silo {silo.Endpoint} of cluster {ClusterId} to be {status}",
            async () =>
            {
                if (silo.Process.HasExited && status != MembershipStatus.Dead)
                {
                    throw new InvalidOperationException($"{silo.Process.Name} exited with {silo.Process.ExitCode}:\n{silo.Process.Output()}");
                }

                var newest = (await MembershipAsync()).Where(r => r.Port == silo.SiloPort && r.Generation > newerThanGeneration).MaxBy(r => r.Generation);
                return newest?.Status == status;
            },
            timeout,
            async () => string.Join("; ", await MembershipAsync()) + "\n" + silo.Process.Output());
    }

    /// <summary>GET /health/ready until it reports <paramref name="silos"/> active silos.</summary>
    public static async Task<JsonElement> WaitForReadyAsync(HttpClient http, int silos, TimeSpan? timeout = null)
    {
        JsonElement body = default;
        var status = 0;
        await Wait.UntilAsync(
            $"/health/ready to report {silos} active silos",
            async () =>
            {
                using var response = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
                status = (int)response.StatusCode;
                body = await response.Content.ReadFromJsonAsync<JsonElement>();
                return response.IsSuccessStatusCode && body.GetProperty("cluster").GetProperty("activeSilos").GetInt32() == silos;
            },
            timeout ?? TimeSpan.FromSeconds(60),
            () => Task.FromResult($"HTTP {status} {body}"));
        return body;
    }

    public async ValueTask DisposeAsync()
    {
        List<ManagedProcess> all;
        lock (_processes)
        {
            all = [.. _processes];
        }

        await Task.WhenAll(all.Select(p => p.DisposeAsync().AsTask()));
    }

    private Dictionary<string, string> BuildEnvironment(IReadOnlyDictionary<string, string>? extra = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__OrleansJobs"] = database.ConnectionString,
            ["ORLEANSJOBS_DB"] = "",
            ["Cluster__ClusterId"] = ClusterId,
            ["Cluster__ServiceId"] = ClusterId,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__Orleans.Runtime.MembershipService"] = "Information",
            ["Logging__LogLevel__OrleansJobs.Silo"] = "Information", // for the started line
            ["Auth__Keys__0__Name"] = "test-admin",
            ["Auth__Keys__0__Key"] = AdminKey,
            ["Auth__Keys__0__Roles__0"] = "admin",
        };
        foreach (var source in new[] { settings, extra })
        {
            foreach (var (key, value) in source ?? new Dictionary<string, string>())
            {
                environment[key] = value;
            }
        }

        return environment;
    }
}
