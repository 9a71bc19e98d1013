using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Workers;

/// <summary>
/// Claims for external workers. The admission grain of each asked type hands out its next waiting
/// job (in priority, then arrival order, within the type's limit); the job itself then decides
/// under its single activation whether it can still be leased, so two workers never hold one job.
/// The two calls are made from here, never from one of those grains to the other: neither ever
/// waits on the other.
/// </summary>
[StatelessWorker]
public sealed partial class WorkerGatewayGrain(JobHandlerRegistry registry, ILogger<WorkerGatewayGrain> logger) : Grain, IWorkerGatewayGrain
{
    /// <summary>Queued jobs a claim may find gone (finished, cancelled) before it gives up on a type for now.</summary>
    private const int TriesPerType = 20;

    public const int MaxWorkerIdLength = 200;

    public const int MaxTypes = 20;

    async Task<WorkerClaimResult> IWorkerGatewayGrain.ClaimAsync(string workerId, IReadOnlyList<string> types, TimeSpan? leaseDuration)
    {
        var errors = Validate(workerId, types, leaseDuration, out var registrations);
        if (errors.Count > 0)
        {
            return new WorkerClaimResult(null, errors);
        }

        foreach (var registration in registrations)
        {
            var admission = GrainFactory.Reference<IRunSlotsGrain>(registration.Name);
            for (var i = 0; i < TriesPerType; i++)
            {
                var jobId = await admission.ClaimNextAsync();
                if (jobId is null)
                {
                    break;
                }

                WorkerLease? lease = null;
                try
                {
                    lease = await GrainFactory.Reference<IJobGrain>(jobId).ClaimAsync(workerId, leaseDuration ?? registration.Options.LeaseDuration);
                }
                finally
                {
                    if (lease is null)
                    {
                        // Not claimable any more (or the call failed): give the slot back. The job, if it still
                        // waits, is queued again when the type's slots next read waiting jobs from the index.
                        await admission.ReleaseAsync(jobId);
                    }
                }

                if (lease is not null)
                {
                    LogClaimed(logger, jobId, registration.Name, workerId, lease.LeaseDuration.TotalSeconds);
                    return new WorkerClaimResult(lease, []);
                }
            }
        }

        return new WorkerClaimResult(null, []);
    }

    private List<JobParameterError> Validate(string workerId, IReadOnlyList<string> types, TimeSpan? leaseDuration, out List<JobTypeRegistration> registrations)
    {
        var errors = new List<JobParameterError>();
        registrations = [];
        if (string.IsNullOrWhiteSpace(workerId) || workerId.Length > MaxWorkerIdLength)
        {
            errors.Add(new("workerId", $"must be a string of 1 to {MaxWorkerIdLength} characters"));
        }

        if (types.Count is 0 or > MaxTypes)
        {
            errors.Add(new("types", $"must list 1 to {MaxTypes} external job types"));
        }

        string External() => string.Join(", ", registry.Names.Where(n => registry.TryGet(n, out var r) && r.IsExternal).Order(StringComparer.Ordinal));
        for (var i = 0; i < types.Count && i < MaxTypes; i++)
        {
            if (!registry.TryGet(types[i], out var registration))
            {
                errors.Add(new($"types[{i}]", $"unknown job type '{types[i]}' (external types: {External()})"));
            }
            else if (!registration.IsExternal)
            {
                errors.Add(new($"types[{i}]", $"'{types[i]}' is run by the silos, not by workers (external types: {External()})"));
            }
            else if (registration.Options.DeviceKind is { } kind)
            {
                errors.Add(new($"types[{i}]", $"'{types[i]}' runs on devices of kind '{kind}': their agents claim with \"device\""));
            }
            else if (leaseDuration is { } lease && (lease < registration.Options.MinLeaseDuration || lease > registration.Options.MaxLeaseDuration))
            {
                errors.Add(new("leaseSeconds",
                    $"must be from {registration.Options.MinLeaseDuration.TotalSeconds:0.###} to {registration.Options.MaxLeaseDuration.TotalSeconds:0.###} for type '{types[i]}'"));
            }
            else if (!registrations.Contains(registration))
            {
                registrations.Add(registration);
            }
        }

        return errors;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId} ({Type}) leased to worker {WorkerId} for {Seconds} s")]
    private static partial void LogClaimed(ILogger logger, string jobId, string type, string workerId, double seconds);
}
