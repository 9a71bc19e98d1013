using System.ComponentModel.DataAnnotations;
using OpenTelemetry.Metrics;
using OrleansJobs.Telemetry;

namespace OrleansJobs.Silo.Hosting;

/// <summary>Where a silo serves its meters to Prometheus (configuration section <c>Metrics</c>).</summary>
public sealed class SiloMetricsOptions
{
    public const string SectionName = "Metrics";

    /// <summary>Port of the silo's own <c>/metrics</c>; give each silo on one machine its own. 0 serves none (the meters are still kept).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 9464;

    /// <summary>Address to listen on: loopback by default; <c>*</c> for every address.</summary>
    [Required]
    public string Host { get; set; } = "127.0.0.1";
}

/// <summary>Serves the job meters, Orleans' own and the .NET runtime's in Prometheus text format at <c>/metrics</c>.</summary>
public static class SiloMetrics
{
    /// <summary>Orleans' meter (messaging, grains, membership, storage, reminders).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    public static IHostApplicationBuilder AddOrleansJobsSiloMetrics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SiloMetricsOptions>()
            .BindConfiguration(SiloMetricsOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        var options = builder.Configuration.GetSection(SiloMetricsOptions.SectionName).Get<SiloMetricsOptions>() ?? new SiloMetricsOptions();
        if (options.Port == 0)
        {
            return builder;
        }

        // The exporter's own listener: the silo process hosts no web server, and this one serves only the scrape.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(JobMetrics.MeterName, OrleansMeter, "System.Runtime")
            .AddPrometheusHttpListener(o =>
            {
                o.Host = options.Host;
                o.Port = options.Port;
                o.ScrapeEndpointPath = "/metrics";
            }));
        return builder;
    }
}
