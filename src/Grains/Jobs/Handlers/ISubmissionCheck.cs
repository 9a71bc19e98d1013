using System.Text.Json;

namespace OrleansJobs.Jobs.Handlers;

/// <summary>
/// A job type whose submissions need checks against the cluster (another job, a library) before the
/// job exists: a submission that fails them is refused with 400, naming the field, instead of failing
/// later when it runs. Called after <see cref="IJobHandler.Validate"/> found nothing wrong.
/// </summary>
public interface ISubmissionCheck
{
    Task<IReadOnlyList<JobParameterError>> CheckAsync(JsonElement parameters, string? library, IGrainFactory cluster);
}
