namespace OrleansJobs.Tests.TestGrains;

/// <summary>A grain that records each reminder tick in a table, with the silo that received it.</summary>
[Alias("OrleansJobs.Tests.IReminderProbeGrain")]
public interface IReminderProbeGrain : IGrainWithStringKey
{
    /// <summary>Registers the reminder; returns the silo this activation runs on.</summary>
    [Alias("Start")]
    Task<string> StartAsync(TimeSpan period);

    /// <summary>Removes the reminder.</summary>
    [Alias("Stop")]
    Task StopAsync();
}
