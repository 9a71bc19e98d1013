using System.Text.Json;

namespace OrleansJobs.Jobs.Handlers;

/// <summary>
/// Stands for a job type that external workers run. The silo validates only that the parameters
/// are a JSON object (the worker owns their meaning) and never runs it.
/// </summary>
public sealed class ExternalWorkerJob : IJobHandler
{
    public IReadOnlyList<JobParameterError> Validate(JsonElement parameters) =>
        parameters.ValueKind == JsonValueKind.Object ? [] : [new JobParameterError("parameters", "must be a JSON object")];

    public Task RunAsync(IJobContext context) =>
        throw new InvalidOperationException("jobs of an external type are run by workers through the worker API, not in the silo");
}
