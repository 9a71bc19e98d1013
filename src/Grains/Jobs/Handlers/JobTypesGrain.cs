using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using OrleansJobs.Jobs.Watchdog;

namespace OrleansJobs.Jobs.Handlers;

/// <summary>Answers from the local registry: any silo can, so each silo runs its own activations.</summary>
[StatelessWorker]
public sealed class JobTypesGrain(JobHandlerRegistry registry, IOptions<WatchdogOptions> watchdog) : Grain, IJobTypesGrain
{
    Task<IReadOnlyList<JobTypeInfo>> IJobTypesGrain.GetAllAsync()
    {
        var types = new List<JobTypeInfo>();
        foreach (var name in registry.Names.Order(StringComparer.Ordinal))
        {
            registry.TryGet(name, out var registration);
            // The watchdog's own rule (JobGrain.CheckRunAsync): the type's timeout, else the default.
            types.Add(new JobTypeInfo(name, registration.IsExternal, registration.Options.StallTimeout ?? watchdog.Value.StallTimeout));
        }

        return Task.FromResult<IReadOnlyList<JobTypeInfo>>(types);
    }
}
