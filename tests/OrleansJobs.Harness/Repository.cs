using System.Reflection;

namespace OrleansJobs.Harness;

/// <summary>Paths inside the checkout the tests run from.</summary>
public static class Repository
{
    /// <summary>The checkout's root (the folder holding OrleansJobs.sln).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Build configuration of this test assembly; the processes under test use the same.</summary>
    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string SiloDirectory => OutputOf("Silo");

    public static string ApiHostDirectory => OutputOf("ApiHost");

    /// <summary>The simulated plotter agent; built by the test project, which references it.</summary>
    public static string PlotterAgentDirectory => OutputOf("PlotterAgent");

    private static string OutputOf(string project)
    {
        var dir = Path.Combine(Root, "src", project, "bin", Configuration, "net10.0");
        return Directory.Exists(dir) ? dir : throw new DirectoryNotFoundException($"{project} is not built at {dir}");
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansJobs.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"OrleansJobs.sln not found above {AppContext.BaseDirectory}");
    }
}
