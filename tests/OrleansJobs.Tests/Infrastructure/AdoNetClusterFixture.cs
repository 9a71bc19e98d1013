using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansJobs.Hosting;
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
    private TestDatabase? _database;
    private TestCluster? _cluster;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("fixture not initialized");

    public TestCluster Cluster => _cluster ?? throw new InvalidOperationException("fixture not initialized");

    public async Task InitializeAsync()
    {
        _database = await PostgresServer.CreateDatabaseAsync("cluster");
        await _database.ApplySchemaAsync();
        await _database.ExecuteAsync(TickLog.CreateTableSql);

        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        builder.Options.ServiceId = $"svc-{Guid.NewGuid():N}"[..16];
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{OrleansJobsDatabase.ConnectionStringName}"] = _database.ConnectionString,
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
            // Reminders below the production minimum keep the watchdog tests short.
            siloBuilder.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            siloBuilder.Services.AddSingleton(new TickLog(connectionString));
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

[CollectionDefinition(Name)]
public sealed class AdoNetClusterCollection : ICollectionFixture<AdoNetClusterFixture>
{
    public const string Name = "AdoNet cluster";
}
