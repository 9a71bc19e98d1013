using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace OrleansJobs.Tests.Workers;

/// <summary>Writes a worker's log to the test's output, so that a failure shows what the worker saw.</summary>
public sealed class TestOutputLogger(ITestOutputHelper output, string name) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        try
        {
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{name} {logLevel}] {formatter(state, exception)}{(exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})")}");
        }
        catch (InvalidOperationException)
        {
            // The test has ended; a worker still stopping has nowhere to write.
        }
    }
}
