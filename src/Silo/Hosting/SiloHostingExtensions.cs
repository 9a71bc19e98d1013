using System.Net;
using Npgsql;
using Orleans.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using Orleans.Runtime.Hosting;
using OrleansJobs.Devices;
using OrleansJobs.Events;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Files;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Persistence;
using OrleansJobs.Jobs.Projections;
using OrleansJobs.Jobs.Synthetic;
using OrleansJobs.Jobs.Watchdog;
using OrleansJobs.Libraries;
using OrleansJobs.Membership;
using OrleansJobs.Recovery;
using OrleansJobs.Safeguards;
using OrleansJobs.Storage;
using OrleansJobs.Telemetry;

namespace OrleansJobs.Silo.Hosting;

/// <summary>Wires an OrleansJobs silo: PostgreSQL for membership, job state and reminders.</summary>
public static class SiloHostingExtensions
{
    /// <summary>
    /// Most grains whose directory entry a silo caches (Orleans' default: 1,000,000). Orleans keeps an entry for every grain
    /// activated through the silo, also after it deactivated, and counts the cache by walking it for its size gauge, which
    /// the dashboard reads every second: about 150 ns per entry, an eighth of a core at a million (docs/operations.md).
    /// </summary>
    public const int DefaultDirectoryCacheSize = 100_000;

    /// <summary>
    /// Configures the whole silo process from configuration: schema on start, the Orleans silo
    /// with its endpoints, and graceful shutdown.
    /// </summary>
    public static IHostApplicationBuilder AddOrleansJobsSilo(this IHostApplicationBuilder builder)
    {
        var connectionString = DatabaseConnectionTuning.Apply(OrleansJobsDatabase.GetConnectionString(builder.Configuration));
        builder.Services.AddSingleton(new DatabaseConnection(connectionString));
        builder.Services.AddOptions<SiloHostOptions>()
            .BindConfiguration(SiloHostOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.Configure<HostOptions>(builder.Configuration.GetSection("Host"));

        // Must be registered before UseOrleans: hosted services start in registration order.
        builder.Services.AddHostedService<SchemaInitializer>();
        builder.AddOrleansJobsSiloMetrics();

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
        connectionString = DatabaseConnectionTuning.Apply(connectionString);
        silo.Configure<ClusterOptions>(configuration.GetSection("Cluster"));
        silo.Configure<ClusterMembershipOptions>(configuration.GetSection("Membership"));
        silo.Configure<ReminderOptions>(configuration.GetSection("Reminders"));
        silo.Configure<GrainCollectionOptions>(configuration.GetSection("GrainCollection"));
        silo.Configure<GrainDirectoryOptions>(o => o.CacheSize = DefaultDirectoryCacheSize);
        silo.Configure<GrainDirectoryOptions>(configuration.GetSection("GrainDirectory"));
        // Job state: group commit, so that concurrent checkpoints of many jobs cost one statement and one commit.
        silo.Services.Configure<BatchedGrainStorageOptions>(configuration.GetSection("JobStore"));
        silo.Services.AddGrainStorage(OrleansJobsDatabase.JobStore, (sp, name) => new BatchedGrainStorage(
            name,
            sp.GetRequiredService<NpgsqlDataSource>(),
            new JsonGrainStorageSerializer(),
            sp.GetRequiredService<IOptions<BatchedGrainStorageOptions>>().Value,
            sp.GetRequiredService<ILogger<BatchedGrainStorage>>(),
            sp.GetRequiredService<SiloMembershipRow>()));
        // Every other grain state: the Orleans ADO.NET provider, one statement per write.
        silo.AddAdoNetGrainStorageAsDefault(o =>
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
        silo.Services.Configure<WatchdogOptions>(configuration.GetSection(WatchdogOptions.SectionName));
        silo.Services.AddSingleton<RecoverySweep>();
        // Safeguards: retention of finished jobs (section Retention), run on one silo every Retention:Interval.
        silo.Services.AddSingleton<JobPurgeStore>();
        silo.Services.AddSingleton<JobImportStore>();
        silo.Services.AddOptions<RetentionOptions>().Bind(configuration.GetSection("Retention"))
            .Validate(o => o.Retention > TimeSpan.Zero && o.Interval >= TimeSpan.FromSeconds(1) && o.BatchSize is >= 1 and <= 10_000 && o.Parallelism is >= 1 and <= 64
                && o.MaxPastJobsPerType is null or >= 0 && o.MaxJobsPerSecond is null or >= 0,
                "Retention: Retention > 0, Interval >= 1 s, BatchSize 1..10000, Parallelism 1..64, MaxPastJobsPerType >= 0, MaxJobsPerSecond >= 0")
            .ValidateOnStart();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, RetentionSchedule>();
        // The state validator (section Validator), run on one silo when it starts and every Validator:ValidationInterval.
        silo.Services.AddSingleton<ValidatorQueries>();
        silo.Services.AddOptions<ValidatorOptions>().Bind(configuration.GetSection(ValidatorOptions.SectionName))
            .Validate(o => o.ValidationInterval >= TimeSpan.FromSeconds(1) && o.Settle >= TimeSpan.Zero && o.Parallelism is >= 1 and <= 64,
                "Validator: ValidationInterval >= 1 s, Settle >= 0, Parallelism 1..64")
            .ValidateOnStart();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, ValidatorSchedule>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, RecoveryTrigger>();
        // Liveness: proof of a peer's death declares it dead at once; this silo stops acting once declared dead.
        silo.Services.Configure<LivenessOptions>(configuration.GetSection(LivenessOptions.SectionName));
        silo.Services.AddSingleton<SiloMembershipRow>();
        silo.Services.AddSingleton<SiloLiveness>();
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloLiveness>());
        silo.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>, SiloDeathWatch>();
        silo.Services.AddSingleton(sp => new SyntheticEffectStore(
            sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<SiloLiveness>(), sp.GetRequiredService<ILocalSiloDetails>(),
            sp.GetRequiredService<SiloMembershipRow>()));
        silo.Services.AddJobHandler<SyntheticJobHandler>(SyntheticJobHandler.TypeName);
        // Libraries: where their roots may lie, and the table that lists them.
        silo.Services.Configure<LibraryOptions>(configuration.GetSection(LibraryOptions.Section));
        silo.Services.AddSingleton<LibraryStore>();
        // The file job types: each works on a library, holding its lock (analysis checkpoints every 100 files or 5 s).
        silo.Services.AddSingleton<CatalogStore>();
        silo.Services.AddSingleton<FileOperationStore>();
        silo.Services.AddJobHandler<AnalyzeJobHandler>(AnalyzeJobHandler.TypeName, o => o.RequiresLibrary = true);
        silo.Services.AddJobHandler<OrganizeJobHandler>(OrganizeJobHandler.TypeName, o =>
        {
            o.RequiresLibrary = true;
            o.CheckpointEveryItems = OrganizeJobHandler.BatchSize; // a checkpoint per batch of operations
        });
        silo.Services.AddJobHandler<RevertJobHandler>(RevertJobHandler.TypeName, o =>
        {
            o.RequiresLibrary = true;
            o.CheckpointEveryItems = OrganizeJobHandler.BatchSize;
        });
        silo.Services.AddJobHandler<ThumbnailsJobHandler>(ThumbnailsJobHandler.TypeName, o => o.RequiresLibrary = true);
        // Job types run by external workers, one subsection per type name (ExternalJobTypes:<name>:LeaseDuration, ...).
        foreach (var type in configuration.GetSection("ExternalJobTypes").GetChildren())
        {
            silo.Services.AddExternalJobType(type.Key, o => type.Bind(o));
        }

        // Devices, and the job types that run on them (DeviceJobTypes:<name>:DeviceKind, ResumeAfterReconnect, ...).
        // The built-in "plot" runs on plotters (the simulated one under src/ is the reference agent).
        silo.Services.AddSingleton<DeviceStore>();
        if (!configuration.GetSection("DeviceJobTypes:plot").Exists())
        {
            silo.Services.AddDeviceJobType("plot", "plotter", o => o.MaxLeaseDuration = TimeSpan.FromMinutes(5));
        }

        foreach (var type in configuration.GetSection("DeviceJobTypes").GetChildren())
        {
            var kind = type["DeviceKind"] ?? throw new InvalidOperationException($"DeviceJobTypes:{type.Key}:DeviceKind is required");
            silo.Services.AddDeviceJobType(type.Key, kind, o => type.Bind(o));
        }

        silo.Services.AddMetrics();
        silo.Services.AddSingleton<JobMetrics>();
        silo.Services.AddSingleton<ProjectionWriter>();
        silo.Services.Configure<ProjectionBatcherOptions>(configuration.GetSection("Projections"));
        // Live events (docs/events.md): sent to the API hosts listening, after each projection commit.
        silo.Services.AddOptions<JobEventPublisherOptions>().Bind(configuration.GetSection(JobEventPublisherOptions.SectionName))
            .Validate(o => o.SinkRefresh >= TimeSpan.FromMilliseconds(100) && o.ProgressInterval >= TimeSpan.Zero && o.MaxMessagesPerSecond >= 0
                && o.QueueCapacity >= 1 && o.MaxBatchEvents >= 1,
                "Events: SinkRefresh >= 100 ms, ProgressInterval >= 0, MaxMessagesPerSecond >= 0, QueueCapacity >= 1, MaxBatchEvents >= 1")
            .ValidateOnStart();
        silo.Services.AddSingleton<JobEventPublisher>();
        silo.Services.AddSingleton<JobEventPublisherMetrics>();
        silo.Services.AddHostedService(sp =>
        {
            sp.GetRequiredService<JobEventPublisherMetrics>(); // its meters exist from the start, read at each scrape
            return sp.GetRequiredService<JobEventPublisher>();
        });
        silo.Services.AddSingleton<ProjectionBatcher>();
        silo.Services.AddHostedService(sp => sp.GetRequiredService<ProjectionBatcher>());
        return silo;
    }
}
