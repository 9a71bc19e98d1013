using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Synthetic;
using OrleansJobs.Jobs.Watchdog;
using OrleansJobs.Safeguards;
using OrleansJobs.Silo.Hosting;
using OrleansJobs.Tests.TestGrains;

namespace OrleansJobs.Tests.Infrastructure;

/// <summary>
/// An in-process Orleans test cluster wired exactly like a production silo (ADO.NET clustering,
/// the jobs store and reminders on PostgreSQL, through <see cref="SiloHostingExtensions"/>), on
/// a fresh database. Silos talk over real TCP on loopback.
/// </summary>
public sealed class AdoNetClusterFixture : IAsyncLifetime
{
    /// <summary>The synthetic handler under a second name with only <see cref="LimitedSlots"/> run slots.</summary>
    public const string LimitedType = "synthetic-limited";

    public const int LimitedSlots = 3;

    /// <summary>The synthetic handler under a name with a single run slot, used only by the activation loss tests.</summary>
    public const string SingleSlotType = "synthetic-single";

    /// <summary>The synthetic handler under a name whose runs stall after <see cref="StallTimeout"/> and pause after two restarts.</summary>
    public const string WatchedType = "synthetic-watched";

    /// <summary>Runs of this type are overdue after <see cref="MaxRunTime"/>; one restart, then paused.</summary>
    public const string TimedType = "synthetic-timed";

    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan MaxRunTime = TimeSpan.FromSeconds(2);

    private TestDatabase? _database;
    private TestCluster? _cluster;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("fixture not initialized");

    public TestCluster Cluster => _cluster ?? throw new InvalidOperationException("fixture not initialized");

    /// <summary>The one allowed base folder of library roots (Libraries:AllowedRoots); removed with the fixture.</summary>
    public string LibrariesBase { get; } = Path.Combine(Path.GetTempPath(), $"orleansjobs-libraries-{Guid.NewGuid():N}"[..40]);

    /// <summary>A folder beside <see cref="LibrariesBase"/>, outside every allowed base.</summary>
    public string Outside => LibrariesBase + "-outside";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(LibrariesBase);
        Directory.CreateDirectory(Outside);
        _database = await PostgresServer.CreateDatabaseAsync("cluster");
        await _database.ApplySchemaAsync();
        await _database.ExecuteAsync(TickLog.CreateTableSql);

        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        // Real sockets, as in production (the test cluster's default is an in-memory transport, on which
        // no silo listens on its port and the death watch would take every member for gone).
        builder.Options.ConnectionTransport = ConnectionTransportType.TcpSocket;
        builder.Options.ServiceId = $"svc-{Guid.NewGuid():N}"[..16];
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{OrleansJobsDatabase.ConnectionStringName}"] = _database.ConnectionString,
            ["Libraries:AllowedRoots:0"] = LibrariesBase,
        }));
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        builder.AddClientBuilderConfigurator<ClientConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        foreach (var folder in new[] { LibrariesBase, Outside }.Where(Directory.Exists))
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var connectionString = OrleansJobsDatabase.GetConnectionString(siloBuilder.Configuration);
            siloBuilder.UseAdoNetClustering(o =>
            {
                o.Invariant = OrleansJobsDatabase.Invariant;
                o.ConnectionString = connectionString;
            });
            siloBuilder.AddOrleansJobsServices(siloBuilder.Configuration, connectionString);
            // Reminders below the production minimum keep the watchdog tests short; every job gets its reminder at once.
            siloBuilder.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            siloBuilder.Services.Configure<WatchdogOptions>(o =>
            {
                o.ReminderPeriod = TimeSpan.FromSeconds(1);
                o.RegisterAfter = TimeSpan.Zero;
            });
            // The state validator runs only when a test asks: tests plant inconsistencies of their own.
            siloBuilder.Services.Configure<ValidatorOptions>(o =>
            {
                o.ValidateAtStart = false;
                o.ValidationInterval = TimeSpan.FromHours(1);
                o.Settle = TimeSpan.FromSeconds(1);
            });
            siloBuilder.Services.AddSingleton(new TickLog(connectionString));
            // A type with few slots, to see admission order and limits.
            siloBuilder.Services.AddJobHandler<SyntheticJobHandler>(LimitedType, o => o.MaxConcurrent = LimitedSlots);
            siloBuilder.Services.AddJobHandler<SyntheticJobHandler>(SingleSlotType, o => o.MaxConcurrent = 1);
            siloBuilder.Services.AddJobHandler<SyntheticJobHandler>(WatchedType, o =>
            {
                o.StallTimeout = StallTimeout;
                o.MaxRecoveries = 2;
            });
            siloBuilder.Services.AddJobHandler<SyntheticJobHandler>(TimedType, o =>
            {
                o.MaxRunTime = MaxRunTime;
                o.MaxRecoveries = 1;
            });
        }
    }

    private sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.UseAdoNetClustering(o =>
            {
                o.Invariant = OrleansJobsDatabase.Invariant;
                o.ConnectionString = OrleansJobsDatabase.GetConnectionString(configuration);
            });
    }
}

[RunsFor(80)]
[CollectionDefinition(Name)]
public sealed class AdoNetClusterCollection : ICollectionFixture<AdoNetClusterFixture>
{
    public const string Name = "AdoNet cluster";
}
