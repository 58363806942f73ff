// Replaced as soon as the target has real tests.
import Testing
