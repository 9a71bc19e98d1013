namespace OrleansJobs.Safeguards;

/// <summary>
/// Stops every active job of the cluster at once (one activation, one cleanup at a time): cancelled
/// gracefully, those still running after the grace killed; or force-failed. Each job it touches is
/// journaled <c>emergency_cleanup</c>; the locks and devices they held are released as they end.
/// Safe to repeat; the cluster takes new jobs at once.
/// </summary>
[Alias("OrleansJobs.IEmergencyCleanupGrain")]
public interface IEmergencyCleanupGrain : IGrainWithIntegerKey
{
    /// <summary>Runs the cleanup (or, dry, counts what it would stop).</summary>
    /// <remarks>The grace alone may last 10 minutes: the call may take up to 30.</remarks>
    [Alias("Run"), ResponseTimeout("00:30:00")]
    Task<EmergencyCleanupRun> RunAsync(EmergencyCleanupRequest request);

    /// <summary>The last cleanup that stopped jobs (not a dry run); null when none ran since activation.</summary>
    [Orleans.Concurrency.ReadOnly, Alias("LastRun")]
    Task<EmergencyCleanupRun?> GetLastRunAsync();
}

/// <summary>How to stop: <see cref="ForceFail"/> fails every job at once; otherwise cancel, and kill what still runs after <see cref="Grace"/>.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.EmergencyCleanupRequest")]
public sealed record EmergencyCleanupRequest(
    [property: Id(0)] string Actor,
    [property: Id(1)] bool ForceFail,
    [property: Id(2)] TimeSpan Grace,
    [property: Id(3)] bool DryRun);

/// <summary>
/// What a cleanup found and did: active jobs found (by status), cancelled, killed after the grace,
/// force-failed, and jobs that could not be reached or did not end (still active afterwards); then the
/// state validator's run that followed (null when it could not run).
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.EmergencyCleanupRun")]
public sealed record EmergencyCleanupRun(
    [property: Id(0)] bool DryRun,
    [property: Id(1)] DateTimeOffset StartedAt,
    [property: Id(2)] DateTimeOffset FinishedAt,
    [property: Id(3)] IReadOnlyDictionary<string, int> Found,
    [property: Id(4)] int Cancelled,
    [property: Id(5)] int Killed,
    [property: Id(6)] int ForceFailed,
    [property: Id(7)] int Unreachable,
    [property: Id(8)] int StillActive,
    [property: Id(9)] ValidationRun? Validation = null);
