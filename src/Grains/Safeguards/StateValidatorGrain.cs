using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using OrleansJobs.Devices;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Libraries;
using OrleansJobs.Recovery;
using OrleansJobs.Telemetry;

namespace OrleansJobs.Safeguards;

/// <summary>
/// Compares memory with the database and repairs what disagrees, in this order: jobs left on silos that
/// are gone (recovered), index rows against job states (rewritten from the state, or deleted with a job
/// that has none), every resource's holders and waiters (released when their job ended or never
/// existed), watchdog reminders of jobs that neither run nor wait (removed), rows nothing owns any more
/// (deleted), and file operations an ended job left in progress (settled from the disk). The queries only
/// name suspects; each job or resource checks again against its own state before it repairs, so a
/// consistent system, busy or not, is never changed. Runs one at a time; its totals are durable.
/// </summary>
public sealed partial class StateValidatorGrain(
    [PersistentState("validator", OrleansJobsDatabase.JobStore)] IPersistentState<ValidatorState> state,
    IGrainFactory grains,
    ValidatorQueries queries,
    NpgsqlDataSource dataSource,
    IClusterMembershipService membership,
    JobHandlerRegistry registry,
    IOptions<ValidatorOptions> options,
    JobMetrics metrics,
    IOptions<ClusterOptions> cluster,
    ILocalSiloDetails silo,
    TimeProvider time,
    ILogger<StateValidatorGrain> logger) : Grain, IStateValidatorGrain, IDisposable
{
    private readonly SemaphoreSlim _running = new(1, 1);

    public void Dispose() => _running.Dispose();

    public Task<ValidatorStatus> GetStatusAsync() => Task.FromResult(new ValidatorStatus(
        state.State.LastRun, state.State.Runs, state.State.TotalFound, state.State.TotalRepaired));

    public async Task<ValidationRun> RunAsync(ValidationRequest request)
    {
        await _running.WaitAsync();
        try
        {
            var run = await ValidateAsync(request.DryRun, request.Reason);
            metrics.Validated(run.Found, run.Repaired);
            if (!request.DryRun)
            {
                state.State.Record(run);
                await state.WriteStateAsync();
            }

            var found = run.Found.Values.Sum();
            if (found > 0)
            {
                LogRun(logger, request.Reason, request.Actor, request.DryRun, found, run.Repaired.Values.Sum(),
                    string.Join(", ", run.Found.Where(f => f.Value > 0).Select(f => $"{f.Key} {f.Value}")));
            }

            return run;
        }
        catch (NpgsqlException ex)
        {
            throw new DatabaseUnavailableException($"the state validator could not reach the database: {ex.Message}");
        }
        finally
        {
            _running.Release();
        }
    }

    private async Task<ValidationRun> ValidateAsync(bool dryRun, string reason)
    {
        var started = time.GetUtcNow();
        var settings = options.Value;
        var tally = new ValidatorTally();
        var cancellation = CancellationToken.None;
        var phases = new PhaseClock(time);

        // Jobs of silos that are gone first: waking them is the recovery, and it rewrites their index rows. A silo
        // that joined a moment ago must not pass for gone: this silo's view of the membership catches up first.
        await RefreshMembershipAsync();
        var gone = await RecoverySweep.FindJobsOfGoneSilosAsync(dataSource, membership, cancellation);
        await ForEachAsync(gone, async job =>
        {
            // Counted when the job confirms it: one the recovery sweep resumed meanwhile is not left on a gone silo any more.
            if (dryRun || await grains.GetGrain<IValidatedJob>(job.JobId).RecoverAsync(job.Silo))
            {
                tally.Add(ValidatorFindings.JobOnGoneSilo, job.JobId, $"running or waiting on {job.Silo}, no longer an active member", !dryRun);
            }
        });

        phases.Mark("gone silos");
        await ForEachAsync(await queries.IndexSuspectsAsync(settings.Settle, cancellation), async jobId =>
        {
            var check = await grains.GetGrain<IValidatedJob>(jobId).CheckIndexAsync(dryRun, settings.Settle);
            if (check.Kind is { } kind)
            {
                tally.Add(kind, jobId, check.Detail, check.Repaired);
            }
        });

        phases.Mark("index");
        await ForEachAsync(await ResourcesAsync(cancellation), async resource =>
        {
            var audit = await resource.AuditAsync(dryRun);
            foreach (var (jobs, kind, what) in new[]
            {
                (audit.ReleasedHolders, ValidatorFindings.StaleHolder, "held"),
                (audit.RemovedWaiters, ValidatorFindings.StaleWaiter, "waited for"),
            })
            {
                foreach (var jobId in jobs)
                {
                    var detail = $"{what} {audit.Resource} although it had ended or did not exist: {(dryRun ? "would be " : "")}{(kind == ValidatorFindings.StaleHolder ? "released" : "removed from the queue")}";
                    tally.Add(kind, jobId, detail, !dryRun);
                    if (!dryRun)
                    {
                        await RecordRepairAsync(jobId, kind, detail);
                    }
                }
            }
        });

        phases.Mark("resources");
        await ForEachAsync(await queries.StaleRemindersAsync(cluster.Value.ServiceId, settings.Settle, cancellation), async jobId =>
        {
            if (await grains.GetGrain<IValidatedJob>(jobId).RemoveStaleReminderAsync(dryRun))
            {
                tally.Add(ValidatorFindings.StaleReminder, jobId, "a watchdog reminder of a job that neither runs nor waits", !dryRun);
            }
        });

        phases.Mark("reminders");
        foreach (var (kind, rows) in await queries.OrphanRowsAsync(dryRun, settings.Settle, cancellation))
        {
            tally.AddRows(kind, rows, !dryRun);
        }

        phases.Mark("orphan rows");
        await ForEachAsync(await queries.OperationsInProgressAsync(settings.Settle, cancellation), async job =>
        {
            var settled = dryRun ? null : await grains.GetGrain<IValidatedJob>(job.JobId).SettleOperationsAsync();
            tally.Add(ValidatorFindings.OperationsInProgress, job.JobId, $"{job.Count} file operation(s) left in progress by an ended job", settled > 0, job.Count);
        });

        phases.Mark("file operations");
        var jobs = await queries.CountJobsAsync(cancellation);
        if (phases.Total >= TimeSpan.FromSeconds(1))
        {
            LogSlowRun(logger, reason, jobs, phases.Total.TotalSeconds, phases.ToString());
        }

        return tally.ToRun(reason, dryRun, started, time.GetUtcNow(), jobs, silo.SiloAddress.ToParsableString());
    }

    /// <summary>Journals a repair on its job; a job that cannot be reached now is logged (the repair stands).</summary>
    private async Task RecordRepairAsync(string jobId, string kind, string detail)
    {
        try
        {
            await grains.GetGrain<IValidatedJob>(jobId).RecordRepairAsync(kind, detail);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogCheckFailed(logger, ex, $"the journal entry of {kind} on job {jobId}");
        }
    }

    private async Task RefreshMembershipAsync()
    {
        try
        {
            await membership.Refresh().AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogMembershipNotRefreshed(logger, ex.GetType().Name);
        }
    }

    /// <summary>Every resource that may hold or queue jobs: the run slots of every type, libraries, devices and the device pools.</summary>
    private async Task<List<IResourceGrain>> ResourcesAsync(CancellationToken cancellationToken)
    {
        var found = await queries.ResourcesAsync(cancellationToken);
        var types = registry.Names.Concat(found.Where(r => r.Kind == "slots").Select(r => r.Key)).Distinct(StringComparer.Ordinal);
        // Every kind a job type runs on has a pool, whether or not a device of the kind is registered.
        var kinds = registry.Names.Select(n => registry.TryGet(n, out var r) ? r.Options.DeviceKind : null).OfType<string>()
            .Concat(found.Where(r => r.Kind == "pool").Select(r => r.Key)).Distinct(StringComparer.Ordinal);
        return
        [
            .. types.Select(type => (IResourceGrain)grains.GetGrain<IRunSlotsGrain>(type)),
            .. found.Where(r => r.Kind == "library").Select(r => (IResourceGrain)grains.GetGrain<ILibraryLockGrain>(r.Key)),
            .. found.Where(r => r.Kind == "device").Select(r => (IResourceGrain)grains.GetGrain<IDeviceOwnershipGrain>(r.Key)),
            .. kinds.Select(kind => (IResourceGrain)grains.GetGrain<IDevicePoolGrain>(kind)),
        ];
    }

    /// <summary>Runs <paramref name="check"/> for every item, a few at a time; an item that fails is logged and left for the next run.</summary>
    private Task ForEachAsync<T>(IEnumerable<T> items, Func<T, Task> check) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = options.Value.Parallelism }, async (item, _) =>
        {
            try
            {
                await check(item);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogCheckFailed(logger, ex, item?.ToString() ?? "?");
            }
        });

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "State validation ({Reason}, by {Actor}, dry run: {DryRun}): {Found} inconsistencies found, {Repaired} repaired ({Kinds})")]
    private static partial void LogRun(ILogger logger, string reason, string actor, bool dryRun, int found, int repaired, string kinds);

    [LoggerMessage(Level = LogLevel.Information, Message = "State validation ({Reason}) of {Jobs} jobs took {Seconds:0.00} s: {Phases}")]
    private static partial void LogSlowRun(ILogger logger, string reason, long jobs, double seconds, string phases);

    [LoggerMessage(Level = LogLevel.Warning, Message = "State validation: the membership table could not be read ({Error}); checking with this silo's view")]
    private static partial void LogMembershipNotRefreshed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "State validation: checking {Item} failed; the next run checks it again")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception, string item);
}
