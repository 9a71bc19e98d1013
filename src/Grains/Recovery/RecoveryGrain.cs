using Npgsql;
using OrleansJobs.Hosting;

namespace OrleansJobs.Recovery;

/// <summary>
/// Runs the cluster's recovery sweeps one at a time and remembers the last. Silos call it when
/// they start, when a member dies and periodically (<see cref="RecoveryTrigger"/>), so it is
/// re-activated on a live silo when its own silo goes.
/// </summary>
[KeepAlive]
public sealed class RecoveryGrain(RecoverySweep sweep) : Grain, IRecoveryGrain
{
    private RecoveryRun? _last;

    Task<RecoveryRun> IRecoveryGrain.TriggerAsync(string reason) => ((IRecoveryGrain)this).TriggerAsync(reason, 0);

    async Task<RecoveryRun> IRecoveryGrain.TriggerAsync(string reason, long membershipVersion)
    {
        try
        {
            return _last = await sweep.RunAsync(reason, membershipVersion, CancellationToken.None);
        }
        catch (NpgsqlException ex)
        {
            // The driver's exception cannot cross the wire; the caller retries (the API answers 503).
            throw new DatabaseUnavailableException($"the recovery sweep could not reach the database: {ex.Message}");
        }
    }

    Task<RecoveryRun?> IRecoveryGrain.GetLastRunAsync() => Task.FromResult(_last);
}
