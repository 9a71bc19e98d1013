using OpenTelemetry.Metrics;
using OrleansJobs.ApiHost.Events;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.ApiHost.Security;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>The API host's <c>/metrics</c>: its HTTP and Orleans client meters and the gauges read from the database.</summary>
public static class ApiMetrics
{
    public static IServiceCollection AddApiMetrics(this IServiceCollection services)
    {
        services.AddSingleton<JobGauges>();
        services.AddSingleton<JobEventFeedMetrics>();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(JobGauges.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.Orleans", "System.Runtime")
            .AddPrometheusExporter());
        return services;
    }

    /// <summary>Maps <c>/metrics</c> (Prometheus text, not part of the JSON API or its OpenAPI document).</summary>
    public static IEndpointRouteBuilder MapApiMetrics(this IEndpointRouteBuilder app)
    {
        // The gauges' meters exist once something asks for them: create them before the first scrape.
        app.ServiceProvider.GetRequiredService<JobGauges>();
        app.ServiceProvider.GetRequiredService<JobEventFeedMetrics>();
        app.MapPrometheusScrapingEndpoint("/metrics").RequireRole(ApiRoles.Reader).ExcludeFromDescription();
        return app;
    }
}
