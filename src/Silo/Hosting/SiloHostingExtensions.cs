using System.Net;
using Npgsql;
using Orleans.Configuration;
using Orleans.Dashboard;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Projections;
using OrleansJobs.Jobs.Synthetic;
using OrleansJobs.Storage;

namespace OrleansJobs.Silo.Hosting;

/// <summary>Wires an OrleansJobs silo: PostgreSQL for membership, job state and reminders.</summary>
public static class SiloHostingExtensions
{
    /// <summary>
    /// Configures the whole silo process from configuration: schema on start, the Orleans silo
    /// with its endpoints, and graceful shutdown.
    /// </summary>
    public static IHostApplicationBuilder AddOrleansJobsSilo(this IHostApplicationBuilder builder)
    {
        var connectionString = OrleansJobsDatabase.GetConnectionString(builder.Configuration);
        builder.Services.AddSingleton(new DatabaseConnection(connectionString));
        builder.Services.AddOptions<SiloHostOptions>()
            .BindConfiguration(SiloHostOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.Configure<HostOptions>(builder.Configuration.GetSection("Host"));

        // Must be registered before UseOrleans: hosted services start in registration order.
        builder.Services.AddHostedService<SchemaInitializer>();

        var host = builder.Configuration.GetSection(SiloHostOptions.SectionName).Get<SiloHostOptions>() ?? new SiloHostOptions();
        builder.UseOrleans(silo =>
        {
            silo.ConfigureEndpoints(
                IPAddress.Parse(host.AdvertisedAddress),
                host.SiloPort,
                host.GatewayPort,
                listenOnAnyHostAddress: host.ListenOnAnyAddress);
            silo.UseAdoNetClustering(o =>
            {
                o.Invariant = OrleansJobsDatabase.Invariant;
                o.ConnectionString = connectionString;
            });
            silo.AddOrleansJobsServices(builder.Configuration, connectionString);
            silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, RefusingSiloSweep>();
            silo.AddDashboard(o => builder.Configuration.GetSection("Dashboard").Bind(o));
        });
        return builder;
    }

    /// <summary>
    /// Everything a silo needs apart from clustering and endpoints (which test clusters set
    /// themselves): the job store, reminders on PostgreSQL, and the tunable Orleans options.
    /// </summary>
    public static ISiloBuilder AddOrleansJobsServices(this ISiloBuilder silo, IConfiguration configuration, string connectionString)
    {
        silo.Configure<ClusterOptions>(configuration.GetSection("Cluster"));
        silo.Configure<ClusterMembershipOptions>(configuration.GetSection("Membership"));
        silo.Configure<ReminderOptions>(configuration.GetSection("Reminders"));
        silo.Configure<GrainCollectionOptions>(configuration.GetSection("GrainCollection"));
        silo.AddAdoNetGrainStorage(OrleansJobsDatabase.JobStore, o =>
        {
            o.Invariant = OrleansJobsDatabase.Invariant;
            o.ConnectionString = connectionString;
            o.GrainStorageSerializer = new JsonGrainStorageSerializer();
        });
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = OrleansJobsDatabase.Invariant;
            o.ConnectionString = connectionString;
        });

        // Our own SQL (read model, handler effects) shares one pool per silo.
        silo.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
        silo.Services.AddSingleton<SyntheticEffectStore>();
        silo.Services.AddJobHandler<SyntheticJobHandler>(SyntheticJobHandler.TypeName);
        silo.Services.AddSingleton<ProjectionWriter>();
        silo.Services.Configure<ProjectionBatcherOptions>(configuration.GetSection("Projections"));
        silo.Services.AddSingleton<ProjectionBatcher>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<ProjectionBatcher>());
        return silo;
    }
}
