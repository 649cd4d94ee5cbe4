# Nothing of node6 stays stuck: `puppet apply doc/examples/converge.pp`, as
# often as you like. cleanup/request reads back the spec as written only
# while it would reach nothing; while a resource of node6 is stuck the read
# has a "# cinderfs: would reach N resources now" line more, so Puppet sees
# a difference, writes the spec again (a cleanup) and reports a change.
file { '/mnt/cinder/cleanup/request':
  ensure  => file,
  content => "host=node6@lvm\n",
  # The filebucket would keep a copy of every differing read.
  backup  => false,
}
