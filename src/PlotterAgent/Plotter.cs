using Microsoft.Extensions.Logging;
using OrleansJobs.Workers;

namespace OrleansJobs.PlotterAgent;

/// <summary>
/// Runs one <c>plot</c> job on the simulated plotter: draws its strokes from the checkpoint's cursor
/// on, checkpoints after each layer and every <see cref="CheckpointEveryStrokes"/> strokes, waits
/// while the device is unplugged, and on a stop finishes the stroke under the pen and checkpoints
/// before giving the job back.
/// </summary>
public sealed class Plotter(AgentOptions options, DeviceLink link, StrokeLog strokes, ILogger logger)
{
    /// <summary>Strokes between two checkpoints within a layer (the worker library does not pass the job type's own setting on).</summary>
    public const int CheckpointEveryStrokes = 25;

    public const string LayersDone = "layersDone";
    public const string RedrawnStrokes = "redrawnStrokes";

    public async Task PlotAsync(WorkerJob job, CancellationToken cancellationToken)
    {
        var plot = PlotParameters.Parse(job.Parameters);
        var next = StrokeCursor.Parse(job.Checkpoint.Cursor, plot);
        var redrawn = job.Checkpoint.Counters?.GetValueOrDefault(RedrawnStrokes) ?? 0;
        logger.LogInformation("Claimed job {JobId} (attempt {Attempt}): {Layers} layers of {Strokes} strokes of {StrokeMs} ms, from {Cursor}",
            job.Id, job.Attempt, plot.Layers, plot.StrokesPerLayer, plot.StrokeMs, next);
        if (next != StrokeCursor.Start)
        {
            redrawn += CountRedrawn(job, next);
        }

        var strokeTime = TimeSpan.FromMilliseconds(plot.StrokeMs * options.StrokeMsScale);
        var sinceCheckpoint = 0;
        try
        {
            while (next.Layer < plot.Layers && !cancellationToken.IsCancellationRequested)
            {
                await link.WaitConnectedAsync(cancellationToken);
                // The stroke under way is finished even when the agent is asked to stop; only a lost lease cuts it short.
                await Task.Delay(strokeTime, job.LeaseLost);
                var stroke = new StrokeLine(job.Id, next.Layer, next.Stroke, options.Agent, DateTimeOffset.UtcNow);
                if (!link.TryDraw(() => strokes.Append(stroke)))
                {
                    continue; // unplugged while the pen moved: nothing reached the paper, the stroke is drawn once the device is back
                }

                next = next.Next(plot);
                sinceCheckpoint++;
                if (next.Stroke == 0)
                {
                    logger.LogInformation("Job {JobId}: layer {Layer} done", job.Id, next.Layer - 1);
                }

                if (next.Stroke == 0 || sinceCheckpoint >= CheckpointEveryStrokes)
                {
                    await CheckpointAsync(job, plot, next, redrawn);
                    sinceCheckpoint = 0;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested || job.LeaseLost.IsCancellationRequested)
        {
            // A lost lease (below), or a stop while the device was unplugged: nothing more was drawn.
        }

        if (next.Layer == plot.Layers)
        {
            job.SetFinalCheckpoint(Checkpoint(plot, next, redrawn));
            logger.LogInformation("Job {JobId}: all {Total} strokes drawn ({Redrawn} of them again after interruptions)", job.Id, plot.TotalStrokes, redrawn);
            return;
        }

        if (job.LeaseLost.IsCancellationRequested)
        {
            // The job was paused (its device went Offline), cancelled or killed: the API has it, and nothing more is reported.
            logger.LogWarning("Job {JobId}: lease lost at {Cursor}; stopped drawing (strokes after its last checkpoint are drawn again if it resumes)", job.Id, next);
            throw new OperationCanceledException("the lease on the job is lost", job.LeaseLost);
        }

        if (sinceCheckpoint > 0)
        {
            await CheckpointAsync(job, plot, next, redrawn);
        }

        logger.LogInformation("Job {JobId}: stopping at {Cursor}, its checkpoint; the job is given back to wait for this device's agent", job.Id, next);
        throw new OperationCanceledException("the agent is stopping", cancellationToken);
    }

    /// <summary>Counts the strokes drawn at or after the resume point (after the last checkpoint, before a kill or a disconnect) and says so on the job.</summary>
    private long CountRedrawn(WorkerJob job, StrokeCursor from)
    {
        var again = strokes.CountFrom(job.Id, from);
        if (again > 0)
        {
            var text = $"{again} strokes drawn after the last checkpoint (from {from}) are drawn again";
            job.Log(WorkerMessageLevel.Warning, text);
            logger.LogWarning("Job {JobId}: {Text}", job.Id, text);
        }
        else
        {
            job.Log(WorkerMessageLevel.Info, $"resuming at {from}: no stroke was drawn after the last checkpoint");
        }

        return again;
    }

    private async Task CheckpointAsync(WorkerJob job, PlotParameters plot, StrokeCursor next, long redrawn)
    {
        var checkpoint = Checkpoint(plot, next, redrawn);
        // Not cut short by a stop: the checkpoint is what the stop gives back. A lost lease throws LeaseLostException.
        await job.ReportProgressAsync(checkpoint.Processed, plot.TotalStrokes, checkpoint, job.LeaseLost);
        logger.LogInformation("Job {JobId}: checkpoint at {Cursor} ({Processed}/{Total} strokes)", job.Id, next, checkpoint.Processed, plot.TotalStrokes);
    }

    private static WorkerCheckpoint Checkpoint(PlotParameters plot, StrokeCursor next, long redrawn) => new(next.ToString(), next.Index(plot),
        new Dictionary<string, long> { [LayersDone] = next.Layer, [RedrawnStrokes] = redrawn });
}
