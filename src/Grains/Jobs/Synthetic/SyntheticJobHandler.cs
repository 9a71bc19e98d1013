using System.Globalization;
using System.Text.Json;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs.Synthetic;

/// <summary>
/// The <c>synthetic</c> job type: numbered items 1..N, each taking <c>itemMs</c>, with injected
/// failures and hangs. Its cursor is the number of the last finished item. Each item's effect is
/// recorded idempotently, so a redone item counts as an extra execution, never a second effect.
/// </summary>
public sealed class SyntheticJobHandler(SyntheticEffectStore effects) : IJobHandler
{
    public const string TypeName = "synthetic";

    public IReadOnlyList<JobParameterError> Validate(JsonElement parameters) => SyntheticParameters.Validate(parameters);

    public async Task RunAsync(IJobContext context)
    {
        var parameters = SyntheticParameters.Parse(context.Parameters);
        context.Progress.SetTotal(parameters.Items);
        // Seeded per job and attempt, so a random failure is reproducible from the journal.
        var random = parameters.FailProbability > 0 ? new Random(HashCode.Combine(context.JobId, context.Attempt)) : null;
        var last = context.Checkpoint.Cursor is { } cursor ? long.Parse(cursor, CultureInfo.InvariantCulture) : 0;
        for (var item = last + 1; item <= parameters.Items; item++)
        {
            if (context.StopRequested.IsCancellationRequested)
            {
                return;
            }

            if (item == parameters.HangAtItem)
            {
                // A stuck handler: it ignores the graceful stop; only a hard stop (kill, watchdog) ends it.
                context.Log(JobMessageLevel.Warning, $"hanging at item {item} as asked");
                await Task.Delay(Timeout.Infinite, context.Aborted);
            }

            if (parameters.ItemMs > 0)
            {
                // The current item finishes even when a graceful stop arrives meanwhile.
                await Task.Delay(parameters.ItemMs, context.Aborted);
            }

            if (item == parameters.FailAtItem || random?.NextDouble() < parameters.FailProbability)
            {
                throw new SyntheticFailureException(item, context.Attempt);
            }

            if (parameters.Record)
            {
                await effects.RecordAsync(context.JobId, item, context.Attempt, context.Aborted);
            }

            await context.ItemDoneAsync(item.ToString(CultureInfo.InvariantCulture));
        }
    }
}

/// <summary>An injected failure of the synthetic handler.</summary>
public sealed class SyntheticFailureException(long item, int attempt)
    : Exception($"synthetic failure at item {item} (attempt {attempt})")
{
    public long Item { get; } = item;
}
