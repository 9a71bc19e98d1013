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

    /// <summary>Largest archive <c>POST /api/admin/import</c> takes (compressed bytes); the only body allowed over 256 KiB.</summary>
    [Range(1024L, long.MaxValue)]
    public long ArchiveMaxBytes { get; set; } = 4L * 1024 * 1024 * 1024;

    /// <summary>Longest line of an archive (uncompressed): one job with its journal and file operations.</summary>
    [Range(1024, int.MaxValue)]
    public int ArchiveMaxLineBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Jobs an import restores at once (each is one call to its grain).</summary>
    [Range(1, 256)]
    public int ArchiveImportParallelism { get; set; } = 64;
}
