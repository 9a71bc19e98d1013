namespace OrleansJobs.Recovery;

/// <summary>One run of the recovery sweep.</summary>
/// <param name="Reason">What started it: a silo's start, a membership change, the periodic timer, an operator.</param>
/// <param name="StartedAt">When the sweep began.</param>
/// <param name="FinishedAt">When the last job it woke answered.</param>
/// <param name="Candidates">Jobs that were running or waiting on a silo that is no longer an active member.</param>
/// <param name="Recovered">Of those, jobs this sweep woke that resumed on a live silo.</param>
/// <param name="Failed">Jobs that could not be reached; the next sweep tries them again.</param>
/// <param name="GoneSilos">The silos the candidates were left on.</param>
/// <param name="Silo">The silo that ran the sweep.</param>
/// <param name="IndexRepaired">Jobs whose index row had fallen behind their state (their silo died between the two writes); waking them rewrote it.</param>
[GenerateSerializer, Immutable, Alias("OrleansJobs.RecoveryRun")]
public sealed record RecoveryRun(
    [property: Id(0)] string Reason,
    [property: Id(1)] DateTimeOffset StartedAt,
    [property: Id(2)] DateTimeOffset FinishedAt,
    [property: Id(3)] int Candidates,
    [property: Id(4)] int Recovered,
    [property: Id(5)] int Failed,
    [property: Id(6)] IReadOnlyList<string> GoneSilos,
    [property: Id(7)] string Silo,
    [property: Id(8)] int IndexRepaired = 0);

/// <summary>
/// The cluster's recovery sweep (one activation, key <see cref="ClusterKey"/>): finds the jobs
/// whose silo is gone and wakes them on a live silo. Silos call it when they start, when a member
/// leaves or dies, and periodically; operators through <c>POST /api/recovery/trigger</c>.
/// </summary>
[Alias("OrleansJobs.IRecoveryGrain")]
public interface IRecoveryGrain : IGrainWithStringKey
{
    const string ClusterKey = "cluster";

    /// <summary>Runs a sweep now and returns what it did.</summary>
    [Alias("Trigger")]
    Task<RecoveryRun> TriggerAsync(string reason);

    /// <summary>
    /// Runs a sweep once this grain's silo knows the cluster membership at least as of
    /// <paramref name="membershipVersion"/> (the version in which the caller saw a silo die), so the
    /// sweep never takes a dead silo for a live one.
    /// </summary>
    [Alias("TriggerAfter")]
    Task<RecoveryRun> TriggerAsync(string reason, long membershipVersion);

    /// <summary>The last sweep, or null when none ran since this grain was activated.</summary>
    [Alias("LastRun")]
    Task<RecoveryRun?> GetLastRunAsync();
}
