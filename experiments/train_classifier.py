"""Train a small CNN classifier on a labelled gantool dataset, for `gantool eval --features`.

    python experiments/train_classifier.py --dataset npz:../shared/data/mnist.npz \
        --out mnist_classifier.keras [--epochs 3] [--max-examples N]

Any gantool dataset spec with class labels works (tfds names such as mnist or cifar10,
`npz:` files with y_train, `folder:` trees with one sub-folder per class, `shapes`); it is read
with gantool.data.load_dataset. The held-out set is the dataset's "test" split where it has
one (with labels), else the last --holdout fraction of the (shuffled) training images.

Input convention, shared with `gantool eval --features`: uint8 images scaled to [0, 1]
(x / 255) by gantool.metrics.classifier.preprocess, at the dataset's own size and channels.
The network: three stride-2 3x3 convolutions (32, 64, 128 filters), global average pooling,
a 128-unit dense layer named `features` (the penultimate layer: the default feature layer of
`--features`) and a softmax over the classes. Prints the held-out accuracy in a table with
the command line, machine and date (benchmarks/common.py).
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import common  # noqa: E402  (sets TensorFlow's log level first)
from gantool.errors import GantoolError, UsageError  # noqa: E402

FEATURE_LAYER = "features"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="gantool dataset spec with labels")
    parser.add_argument("--out", required=True, help="where to save the classifier (.keras)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--max-examples", type=int, help="train on the first N images only")
    parser.add_argument("--max-test", type=int, default=10000, help="held-out images at most")
    parser.add_argument("--holdout", type=float, default=0.1,
                        help="held-out fraction where the dataset has no test split")
    parser.add_argument("--image-size", type=int, help="resize the images (square)")
    parser.add_argument("--channels", type=int, choices=(1, 3))
    parser.add_argument("--data-dir", help="tensorflow-datasets data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no per-epoch Keras lines")
    args = parser.parse_args(argv)
    if not args.out.endswith(".keras"):
        parser.error(f"--out {args.out}: the classifier is saved as a .keras file")
    if args.epochs < 1 or not 0 < args.holdout < 1:
        parser.error("--epochs must be >= 1 and --holdout in (0, 1)")
    return args


def arrays(args, split, limit):
    """(uint8 images (N, H, W, C), int labels (N,), num_classes) of one split."""
    import numpy as np

    from gantool.data import load_dataset
    from gantool.evaluation.reference import dataset_images

    source = load_dataset(args.dataset, split=split, data_dir=args.data_dir,
                          image_size=args.image_size, channels=args.channels,
                          max_examples=limit, seed=args.seed)
    if source.kind != "image" or source.labels is None:
        raise UsageError(f"dataset {args.dataset!r} ({split}) has no class labels; train the "
                         "classifier on a labelled dataset (npz: with y_train, folder: with "
                         "class sub-folders, mnist, cifar10, ...)")
    images = dataset_images(source, limit)
    labels = np.concatenate(list(source.labels.batch(4096).as_numpy_iterator()))
    return images, labels.astype(np.int64), source.num_classes


def train_and_test_sets(args):
    """((x, y), (x_held, y_held), held-out description, num_classes)."""
    import numpy as np

    x, y, classes = arrays(args, "train", args.max_examples)
    try:
        x_held, y_held, _ = arrays(args, "test", args.max_test)
        return (x, y), (x_held, y_held), "test split", classes
    except UsageError:
        pass  # no labelled test split: hold out part of train
    order = np.random.default_rng(args.seed).permutation(len(x))
    cut = max(1, int(round(len(x) * args.holdout)))
    held, kept = order[-cut:][:args.max_test], order[:-cut]
    where = f"last {args.holdout:.0%} of train"
    return (x[kept], y[kept]), (x[held], y[held]), where, classes


def build_classifier(shape, num_classes):
    """The small CNN: 3 strided convolutions, pooling, a 128-d ``features`` layer, softmax."""
    import keras

    inputs = keras.Input(shape)
    x = inputs
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(128, activation="relu", name=FEATURE_LAYER)(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classes")(x)
    model = keras.Model(inputs, outputs, name="gantool_classifier")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def train(args):
    """Train, test and save; returns the table row."""
    import keras

    from gantool.metrics.classifier import preprocess

    keras.utils.set_random_seed(args.seed)
    (x, y), (x_held, y_held), where, classes = train_and_test_sets(args)
    classes = max(classes or 0, int(max(y.max(), y_held.max())) + 1)
    size = x.shape[1:]
    model = build_classifier(size, classes)
    start = time.perf_counter()
    model.fit(preprocess(x, size), y, epochs=args.epochs, batch_size=args.batch_size,
              shuffle=True, verbose=0 if args.quiet else 2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(preprocess(x_held, size), y_held, verbose=0,
                                 batch_size=args.batch_size)
    Path(args.out).expanduser().parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    shape = "x".join(str(d) for d in size)
    return [args.dataset, shape, classes, len(x), f"{len(x_held)} ({where})", args.epochs,
            f"{seconds:.0f}", f"{accuracy:.4f}", args.out]


def main(argv=None):
    args = parse_args(argv)
    common.print_header("gantool classifier for --features")
    try:
        row = train(args)
    except GantoolError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    common.print_table(["dataset", "input", "classes", "train images", "held out", "epochs",
                        "train s", "held-out accuracy", "saved"], [row])
    print(f"use it: gantool eval RUN_DIR --features {args.out} "
          f"(layer {FEATURE_LAYER!r}, the penultimate, by default)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
