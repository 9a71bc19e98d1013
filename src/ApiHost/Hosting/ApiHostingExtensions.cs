using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Orleans.Configuration;
using Orleans.Dashboard;
using OrleansJobs.ApiHost.Events;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.ApiHost.Security;
using OrleansJobs.Hosting;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>Wires the API host to the database (read model) and to the cluster (Orleans client).</summary>
public static class ApiHostingExtensions
{
    public static WebApplicationBuilder AddOrleansJobsApiHost(this WebApplicationBuilder builder)
    {
        var connectionString = OrleansJobsDatabase.GetConnectionString(builder.Configuration);
        builder.Services.AddOptions<ApiHostOptions>()
            .BindConfiguration(ApiHostOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var api = builder.Configuration.GetSection(ApiHostOptions.SectionName).Get<ApiHostOptions>() ?? new ApiHostOptions();

        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));

        // The Orleans client keeps retrying in the background; starting services concurrently
        // lets Kestrel answer /health (and a 503 from /health/ready) while no silo is up yet.
        builder.Services.Configure<HostOptions>(o => o.ServicesStartConcurrently = true);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(builder.Configuration.GetSection("Cluster"));
            client.UseAdoNetClustering(o =>
            {
                o.Invariant = OrleansJobsDatabase.Invariant;
                o.ConnectionString = connectionString;
            });
            client.Configure<ClientMessagingOptions>(o =>
            {
                o.ResponseTimeout = api.GrainCallTimeout;
                o.CancelRequestOnTimeout = true;
            });
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = api.GatewayListRefreshPeriod);
            client.UseConnectionRetryFilter(new RetryForeverFilter(api.ConnectRetryDelay));
            client.AddDashboard(o => builder.Configuration.GetSection("Dashboard").Bind(o));
        });

        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ApiProblems.Customize);
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        builder.Services.AddExceptionHandler<UnavailableExceptionHandler>();
        builder.Services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        // Binding failures throw, so that one handler answers them with the field named (and no handler runs after one).
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddValidation();
        builder.Services.AddOpenApi(ApiDocumentation.Configure);
        ReadinessProbe.AddReadinessChecks(builder.Services, api);
        builder.Services.AddApiMetrics();
        builder.Services.AddApiSecurity();
        builder.Services.AddSingleton<ClusterView>();
        builder.Services.AddHostedService<JobTypesWarmUp>();
        builder.Services.AddSingleton<JobListing>();
        builder.Services.AddSingleton<LibraryReads>();
        builder.Services.AddSingleton<DeviceReads>();
        builder.Services.AddSingleton<FileOperationReads>();
        builder.Services.AddSingleton<JobJournal>();
        builder.Services.AddSingleton<JobReads>();
        // Live events (docs/events.md): one subscription to the silos, shared by every stream of this host.
        builder.Services.AddOptions<EventsOptions>()
            .BindConfiguration(EventsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<EventReads>();
        builder.Services.AddSingleton<JobEventFeed>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<JobEventFeed>());
        return builder;
    }

    /// <summary>Keeps trying to reach the cluster until the host stops: the API must outlive silos.</summary>
    private sealed class RetryForeverFilter(TimeSpan delay) : IClientConnectionRetryFilter
    {
        public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
        {
            try
            {
                await Task.Delay(delay, cancellationToken);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }
}
