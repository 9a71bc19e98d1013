using System.ComponentModel.DataAnnotations;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>Settings of the API host's link to the cluster (configuration section <c>Api</c>).</summary>
public sealed class ApiHostOptions
{
    public const string SectionName = "Api";

    /// <summary>
    /// Longest a grain call from an HTTP request may take. Grain methods answer in milliseconds
    /// (handlers never block the grain), so a call past this is to a silo that died: fail fast
    /// instead of holding the request for Orleans' default 30 s.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan GrainCallTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a read waits for a live grain (a job, the job types, the last recovery sweep) before it
    /// answers from what is stored instead, saying so: no read waits on a silo that does not answer.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:00:30")]
    public TimeSpan LiveReadTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Budget of each readiness check (database, cluster).</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ReadinessCheckTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>How often the client re-reads the gateway list from the membership table.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Delay between attempts to reach the cluster while no silo is up.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:01:00")]
    public TimeSpan ConnectRetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}
