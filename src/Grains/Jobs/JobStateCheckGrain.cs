using Orleans.Concurrency;
using OrleansJobs.Jobs.Persistence;

namespace OrleansJobs.Jobs;

/// <summary>Checks archived job states for an import; stateless, so every silo answers its share.</summary>
[StatelessWorker]
public sealed class JobStateCheckGrain : Grain, IJobStateCheckGrain
{
    public Task<IReadOnlyList<string?>> CheckAsync(IReadOnlyList<string> jobIds, IReadOnlyList<string> states)
    {
        if (jobIds.Count != states.Count)
        {
            throw new ArgumentException($"{jobIds.Count} ids for {states.Count} states", nameof(states));
        }

        IReadOnlyList<string?> errors = [.. jobIds.Select((id, i) => ArchivedJobState.Read(id, states[i]).Error)];
        return Task.FromResult(errors);
    }
}
