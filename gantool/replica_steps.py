"""Several training steps per call into TensorFlow under a multi-replica ``tf.distribute``
strategy (``--steps-per-execution`` > 1 with ``--strategy mirrored`` or ``multi-worker``).

Keras's own loop for ``steps_per_execution`` > 1 runs each step inside a ``tf.cond`` (to stop
early on an exhausted iterator), and a strategy's cross-replica merge inside that branch fails
to run ("You must feed a value for placeholder tensor ... while/cond/Placeholder";
keras-team/keras#19246). gantool's epochs hold whole executions
(:func:`gantool.training.schedule.steps_per_execution` divides them), so here the steps run
unconditionally in a ``tf.while_loop``. One device, or one step per call: Keras's loop as is.
"""

import tensorflow as tf


class MultiReplicaSteps:
    """Mixin for a ``keras.Model`` whose ``train_step`` returns logs that are already global
    (the same on every replica): ``make_train_function`` builds the loop above where needed."""

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        if self.steps_per_execution == 1 or self.distribute_strategy.num_replicas_in_sync == 1:
            return super().make_train_function(force)
        self.train_function = replica_loop(self, self.steps_per_execution)
        return self.train_function


def replica_loop(model, steps):
    """A function of a distributed iterator that runs ``steps`` of ``model.train_step`` on
    every replica and returns the last step's logs (the first replica's copy)."""
    strategy = model.distribute_strategy

    @tf.autograph.experimental.do_not_convert
    def one_step(data):
        outputs = strategy.run(model.train_step, args=(data,))
        return tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0],
                                     outputs)

    one_step = tf.function(one_step, reduce_retracing=True, jit_compile=model.jit_compile)

    @tf.autograph.experimental.do_not_convert
    def run(iterator):
        first = one_step(next(iterator))

        def body(i, _):
            return i + 1, one_step(next(iterator))

        return tf.while_loop(lambda i, _: i < steps - 1, body, (tf.constant(0), first))[1]

    return tf.function(run, reduce_retracing=True)
