using Xunit.Abstractions;

[assembly: TestCollectionOrderer("OrleansJobs.Tests.Infrastructure.LongestFirstOrderer", "OrleansJobs.Tests")]

namespace OrleansJobs.Tests.Infrastructure;

/// <summary>
/// How long a test collection (or a test class in a collection of its own) takes, about, on a
/// 2-core machine. The suite starts the longest ones first, so that no long collection starts
/// last and keeps the run going after everything else has finished.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class RunsForAttribute(int seconds) : Attribute
{
    public int Seconds { get; } = seconds;
}

/// <summary>
/// Orders the test collections longest first (by <see cref="RunsForAttribute"/>, on the
/// collection definition or on the class of a class's own collection); the others keep their order.
/// </summary>
public sealed class LongestFirstOrderer : ITestCollectionOrderer
{
    private const string ImplicitPrefix = "Test collection for ";

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.Select((collection, index) => (collection, index))
            .OrderByDescending(c => Seconds(c.collection))
            .ThenBy(c => c.index)
            .Select(c => c.collection)
            .ToList();

    private static int Seconds(ITestCollection collection)
    {
        var type = collection.CollectionDefinition?.ToRuntimeType();
        if (type is null && collection.DisplayName.StartsWith(ImplicitPrefix, StringComparison.Ordinal))
        {
            type = typeof(LongestFirstOrderer).Assembly.GetType(collection.DisplayName[ImplicitPrefix.Length..]);
        }

        return type?.GetCustomAttributes(typeof(RunsForAttribute), false).Cast<RunsForAttribute>().FirstOrDefault()?.Seconds ?? 0;
    }
}
