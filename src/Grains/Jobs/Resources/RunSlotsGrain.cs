using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// Run slots of one job type, kept in memory (every job of the type calls here: each call stays
/// cheap) by a <see cref="ResourceArbiter"/>, which takes the type's running and waiting jobs
/// over from the job index when this grain activates.
/// </summary>
public sealed class RunSlotsGrain(
    JobHandlerRegistry registry, NpgsqlDataSource dataSource, TimeProvider time, ILogger<RunSlotsGrain> logger) : Grain, IRunSlotsGrain
{
    private const string HoldersSql = $"""
        SELECT job_id FROM job_index WHERE job_type = @key AND status IN ({JobStatusSql.Running})
        """;

    private const string WaitingSql = """
        SELECT job_id, priority, created_at FROM job_index
        WHERE job_type = @key AND status = 'Queued' AND (run_after IS NULL OR run_after <= now())
        ORDER BY priority DESC, created_at, job_id
        LIMIT @limit
        """;

    private ResourceArbiter _arbiter = null!;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var type = this.GetPrimaryKeyString();
        var options = registry.TryGet(type, out var registration) ? registration.Options : new JobTypeOptions();
        _arbiter = new ResourceArbiter(ResourceKey.RunSlot(type), new ResourceSource(HoldersSql, WaitingSql, type), GrainFactory, dataSource, time, logger)
        {
            // External types: waiters are handed to workers that claim them (ClaimNextAsync), never granted here.
            HandOutOnly = options.External,
        };
        _arbiter.Queue.Limit = options.MaxConcurrent;
        // The first check comes soon: holders taken over from the index are verified then (the index may
        // still show Running a job that has ended). The check interleaves with requests: while it waits
        // for the jobs' answers (seconds, when a job's silo has just died), submits and releases of the
        // type must not wait behind it.
        this.RegisterGrainTimer(_arbiter.CheckAsync, new GrainTimerCreationOptions
        {
            DueTime = ResourceArbiter.FirstCheck, Period = ResourceArbiter.CheckPeriod, Interleave = true, KeepAlive = false,
        });
        await _arbiter.ActivateAsync(cancellationToken);
    }

    Task<ResourceTicket> IResourceGrain.RequestAsync(string jobId, int priority, DateTimeOffset queuedAt) =>
        Task.FromResult(_arbiter.Request(jobId, priority, queuedAt));

    Task IResourceGrain.ReleaseAsync(string jobId)
    {
        _arbiter.Release(jobId);
        return Task.CompletedTask;
    }

    Task<ResourceAudit> IResourceGrain.AuditAsync(bool dryRun) => _arbiter.AuditAsync(dryRun, CancellationToken.None);

    Task<string?> IRunSlotsGrain.ClaimNextAsync() => Task.FromResult(_arbiter.HandOutOnly ? _arbiter.Queue.TakeNext(time.GetUtcNow()) : null);

    Task<ResourceTicket> IResourceGrain.GetStatsAsync() =>
        Task.FromResult(new ResourceTicket(false, _arbiter.Queue.HolderCount, _arbiter.Queue.Limit, _arbiter.Queue.WaitingCount));
}
