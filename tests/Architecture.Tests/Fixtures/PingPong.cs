// Fixtures for NamespaceGraphTests: Ping and Pong reference each other only inside method bodies, through fully
// qualified names, a generic method instantiation and a lambda closure, none of which a signature or a using shows.
namespace InferenceServer.Architecture.Tests.Fixtures.Ping
{
    public class Pinger
    {
        public int Serve() => new global::InferenceServer.Architecture.Tests.Fixtures.Pong.Ponger().Return()
            + global::InferenceServer.Architecture.Tests.Fixtures.Leaf.Leaves.One();
    }
}

namespace InferenceServer.Architecture.Tests.Fixtures.Pong
{
    public class Ponger
    {
        public int Return() => 1;

        public static int CountPingers(IEnumerable<object> items, int minimum)
        {
            Func<int> count = () => items.OfType<global::InferenceServer.Architecture.Tests.Fixtures.Ping.Pinger>().Count() - minimum;
            return count();
        }
    }
}

namespace InferenceServer.Architecture.Tests.Fixtures.Leaf
{
    public static class Leaves
    {
        // A method, not a const: a const would be inlined and leave no reference in IL.
        public static int One() => 1;
    }
}
